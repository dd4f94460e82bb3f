"""What is already promised at each venue but not yet visible in its balance.

A child written but not yet acknowledged by its edge holds part of the venue account (the
venue's locked balance shows it only once the edge has placed it); so does a child another
region routed here, until the next balance refresh. Routing caps each venue by its free
balance minus both."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from ..domain import Child, Parent, Side

ZERO = Decimal(0)


class Reservations:
    def __init__(self, live: Callable[[], Iterable[tuple[Parent, Child]]],
                 mark: Callable[[str], Decimal | None]) -> None:
        self._live = live
        self._mark = mark
        #: granted to other regions' children: child id -> (venue, asset, amount)
        self._remote: dict[str, tuple[str, str, Decimal]] = {}

    def reserved(self, venue: str, asset: str) -> Decimal:
        """Local children not yet acknowledged by their edge (once it has them, the venue's
        locked balance carries them)."""
        total = ZERO
        for p, c in self._live():
            if c.venue != venue or c.done or c.sent:
                continue
            base, quote = p.symbol.split("/")
            if p.side is Side.BUY and asset == quote:
                total += (c.qty - c.filled) * (c.price or self._mark(p.symbol) or ZERO)
            elif p.side is Side.SELL and asset == base:
                total += c.qty - c.filled
        return total

    def held_for_remote(self, venue: str, asset: str) -> Decimal:
        return sum((amt for v, a, amt in self._remote.values() if v == venue and a == asset), ZERO)

    def hold_remote(self, child_id: str, venue: str, asset: str, amount: Decimal) -> None:
        self._remote[child_id] = (venue, asset, amount)

    def release_remote(self, child_id: str) -> None:
        self._remote.pop(child_id, None)

    def remote_held(self, child_id: str) -> bool:
        return child_id in self._remote
