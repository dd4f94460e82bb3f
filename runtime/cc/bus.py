"""The CC's in-process message bus: typed topics, synchronous delivery.

Producers publish facts (an order changed, a fill was booked, a book moved, a trade printed);
consumers subscribe by the fact's type. A new consumer (a stream, a scheduler, metrics)
attaches here without its producer changing. Handlers run inline on the event loop and
must be quick: anything slow schedules a task. A failing handler is logged, never allowed
to break the producer or the other consumers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from .domain import Fill, Parent

log = logging.getLogger(__name__)
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    """A parent order changed state (accepted, worked, filled, cancelled, ...)."""

    parent: Parent


@dataclass(frozen=True, slots=True)
class FillBooked:
    """A fill was booked exactly once; `parent` is None for a fill of an algo's (WASM) order."""

    client: str
    fill: Fill
    parent: Parent | None


@dataclass(frozen=True, slots=True)
class BookChanged:
    """A venue's book of `symbol` was updated (so the NBBO may have moved)."""

    symbol: str


@dataclass(frozen=True, slots=True)
class TradePrinted:
    """A trade at a venue (market volume: what VWAP participates in)."""

    venue: str
    symbol: str
    price: Decimal
    qty: Decimal
    ts_ns: int


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, topic: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Deliver every published `topic` to `handler`; returns the unsubscribe call."""
        handlers = self._handlers.setdefault(topic, [])
        handlers.append(handler)
        return lambda: handlers.remove(handler) if handler in handlers else None

    def publish(self, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            try:
                handler(event)
            except Exception:
                log.exception("bus: a %s handler failed", type(event).__name__)

    def has_subscribers(self, topic: type[Any]) -> bool:
        return bool(self._handlers.get(topic))
