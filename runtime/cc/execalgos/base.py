"""What a policy sees and decides. Policies are pure: given the algorithm's state at `now` they
say which slice to send, when to look again and whether the algorithm has run its course.
Randomisation is seeded by the order id and slice number, so a restarted CC makes the same
decisions it would have made."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from ..domain import OrderType, ParentState

ZERO = Decimal(0)


@dataclass(frozen=True)
class AlgoState:
    order_id: str
    now_ns: int
    started_ns: int
    qty: Decimal
    filled: Decimal
    working: Decimal  # sent in slices, neither filled nor final yet
    live_slices: int
    n: int  # slices decided so far (sent or skipped)
    volume: Decimal  # market volume traded in the symbol since the algorithm started
    lot: Decimal  # the finest lot any venue takes: slices are multiples of it
    price: Decimal | None  # the client's price (an iceberg's limit, a TWAP's guard)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled - self.working


@dataclass(frozen=True)
class Slice:
    qty: Decimal  # zero: nothing to send this time (the slice is skipped, `n` still advances)
    type: OrderType
    price: Decimal | None
    nominal_ns: int  # when the plan wanted it (before time randomisation)
    planned_qty: Decimal  # what the plan wanted (before size randomisation and catch-up)
    target_cum: Decimal  # where the plan says the cumulative quantity should be after it


class Policy(Protocol):
    #: cancel a still-working slice before sending the next one (a limit slice must not linger)
    cancel_before_next: bool

    def due(self, st: AlgoState) -> Slice | None:
        """The slice to send now, or None if nothing is due."""
        ...

    def wake_at(self, st: AlgoState) -> int | None:
        """When to look again (ns); None: only when one of its slices changes."""
        ...

    def expired(self, st: AlgoState) -> bool:
        """The algorithm's time is up with quantity unfilled."""
        ...

    def planned(self, st: AlgoState) -> Decimal:
        """Cumulative quantity the plan wants done by `st.now_ns` (schedule adherence)."""
        ...

    def projected_fill(self, st: AlgoState) -> Decimal | None:
        """How much of the order the plan expects done by its end, where that depends on the
        market (VWAP: its participation in the volume re-estimated from what traded); else None."""
        ...


def unit(order_id: str, k: int, what: str) -> float:
    """A number in [0, 1) fixed by (order, slice, purpose): the same after a restart."""
    h = hashlib.blake2b(f"{order_id}:{k}:{what}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def to_lot(qty: Decimal, lot: Decimal) -> Decimal:
    if qty <= 0:
        return ZERO
    return (qty / lot).to_integral_value(ROUND_DOWN) * lot


def expired_state() -> ParentState:
    return ParentState.EXPIRED
