"""The CC's order model: parent orders (what a client asked for), child orders (what went to
one venue's edge) and fills. States change only through `transition` (domain/states.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .states import CHILD_TERMINAL, ChildState, ParentState, check_child, check_parent

ZERO = Decimal(0)


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    # Execution algorithms: the CC's scheduler works them as a series of market/limit slices.
    TWAP = "twap"
    VWAP = "vwap"
    ICEBERG = "iceberg"

    @property
    def is_algo(self) -> bool:
        return self in (OrderType.TWAP, OrderType.VWAP, OrderType.ICEBERG)


class TimeInForce(enum.StrEnum):
    """How long a limit order may work: until cancelled, filled entirely at once or not at all,
    or only resting (post-only: refused where it would take)."""

    GTC = "gtc"
    FOK = "fok"
    POST_ONLY = "post_only"


@dataclass
class Fill:
    fill_id: str
    child_id: str
    parent_id: str
    venue: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    exchange_ts: int
    booked_ns: int

    def fee_in_quote(self, quote: str) -> Decimal:
        """The fee valued in the quote currency (a base-asset fee at the fill's price; a third
        asset the booking could not price counts as nothing rather than at the base's price)."""
        if self.fee_asset == quote:
            return self.fee
        return self.fee * self.price if self.fee_asset == self.symbol.split("/")[0] else Decimal(0)


@dataclass
class Child:
    child_id: str  # also the edge's client_order_id
    parent_id: str
    venue: str
    qty: Decimal
    price: Decimal | None
    type: OrderType
    state: ChildState = ChildState.PENDING_NEW
    venue_order_id: str = ""
    filled: Decimal = ZERO
    cum_quote: Decimal = ZERO
    reason: str = ""
    sent: bool = False  # the edge has acknowledged the submit
    last_seq: int = 0  # the last edge event applied (persisted: any event at or below it is booked)
    created_ns: int = 0
    updated_ns: int = 0

    @property
    def done(self) -> bool:
        return self.state in CHILD_TERMINAL

    @property
    def settled(self) -> bool:
        """Terminal with every fill booked. A child an edge reported FILLED whose fills have not all
        arrived (the ack overtook the event stream, or a partition holds them) is not: its unfilled
        part is on its way, and routing it again would buy it twice."""
        return self.done and (self.state != ChildState.FILLED or self.filled >= self.qty)

    def transition(self, new: ChildState) -> bool:
        """Move to `new` (the same state is no change); raises IllegalTransition."""
        if new == self.state:
            return False
        check_child(self.child_id, self.state, new)
        self.state = new
        return True


@dataclass
class Parent:
    order_id: str
    client: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None  # a limit order's limit; an algorithm's price guard
    state: ParentState
    created_ns: int
    updated_ns: int
    reason: str = ""
    cancel_requested: bool = False
    reroutes: int = 0
    #: routing explanation and TCA baselines; an algorithm's slice names its algorithm here
    decision: dict[str, Any] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        return sum((f.qty for f in self.fills), ZERO)

    @property
    def open_qty(self) -> Decimal:
        """Quantity neither filled nor working at a venue."""
        working = sum((c.qty - c.filled for c in self.children if not c.settled), ZERO)
        return self.qty - self.filled - working

    @property
    def tif(self) -> TimeInForce:
        """Kept in the decision, which the ledger stores with the order (GTC when absent)."""
        return TimeInForce(self.decision.get("time_in_force", TimeInForce.GTC))

    @property
    def algo_parent(self) -> str:
        """The execution algorithm order this one is a slice of ('' for a client's own order)."""
        return str(self.decision.get("algo_parent", ""))

    def transition(self, new: ParentState) -> bool:
        """Move to `new` (the same state is no change); raises IllegalTransition."""
        if new == self.state:
            return False
        check_parent(self.order_id, self.state, new)
        self.state = new
        return True
