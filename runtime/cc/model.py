"""The CC's order model: parent orders (what a client asked for), child orders (what went to
one venue's edge) and fills, with the parent's states in one transition table."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class ParentState(enum.StrEnum):
    NEW = "new"                          # accepted, being routed
    WORKING = "working"                  # children live at venues
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    FILLED = "filled"
    CANCELED = "canceled"                # cancelled by the client (may hold fills)
    EXPIRED = "expired"                  # market remainder no venue could fill
    REJECTED = "rejected"                # every venue refused it


TERMINAL = frozenset({ParentState.FILLED, ParentState.CANCELED, ParentState.EXPIRED, ParentState.REJECTED})
P = ParentState
TRANSITIONS: dict[ParentState, frozenset[ParentState]] = {
    P.NEW: frozenset({P.WORKING, P.PARTIALLY_FILLED, P.FILLED, P.PENDING_CANCEL, P.CANCELED, P.EXPIRED, P.REJECTED}),
    P.WORKING: frozenset({P.PARTIALLY_FILLED, P.FILLED, P.PENDING_CANCEL, P.CANCELED, P.EXPIRED, P.REJECTED}),
    P.PARTIALLY_FILLED: frozenset({P.FILLED, P.PENDING_CANCEL, P.CANCELED, P.EXPIRED}),
    P.PENDING_CANCEL: frozenset({P.PARTIALLY_FILLED, P.FILLED, P.CANCELED, P.EXPIRED}),
    # A venue's late trade report can complete an order after it was declared done.
    P.CANCELED: frozenset({P.FILLED}),
    P.EXPIRED: frozenset({P.FILLED}),
    P.REJECTED: frozenset(),
    P.FILLED: frozenset(),
}


class IllegalTransition(Exception):
    pass


#: Child states are the edge's (runtime/proto/edge.proto OrderState), by name.
CHILD_TERMINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})


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
        """The fee valued in the quote currency (a base-asset fee at the fill's price)."""
        return self.fee if self.fee_asset == quote else self.fee * self.price


@dataclass
class Child:
    child_id: str  # also the edge's client_order_id
    parent_id: str
    venue: str
    qty: Decimal
    price: Decimal | None
    type: OrderType
    state: str = "PENDING_NEW"
    venue_order_id: str = ""
    filled: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
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
        return self.done and (self.state != "FILLED" or self.filled >= self.qty)


@dataclass
class Parent:
    order_id: str
    client: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None
    state: ParentState
    created_ns: int
    updated_ns: int
    reason: str = ""
    cancel_requested: bool = False
    reroutes: int = 0
    decision: dict[str, Any] = field(default_factory=dict)  # routing explanation, TCA baselines
    children: list[Child] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        return sum((f.qty for f in self.fills), Decimal(0))

    @property
    def open_qty(self) -> Decimal:
        """Quantity neither filled nor working at a venue."""
        working = sum((c.qty - c.filled for c in self.children if not c.settled), Decimal(0))
        return self.qty - self.filled - working

    def transition(self, new: ParentState) -> bool:
        if new == self.state:
            return False
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"order {self.order_id}: {self.state} -> {new}")
        self.state = new
        return True
