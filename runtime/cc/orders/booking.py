"""Booking: an edge's order events applied to the child they name, exactly once.

Each batch of an edge's events is booked in one transaction with the stream cursor, so a CC
killed at any instant resumes where its ledger stops. A fill is booked once by its venue fill
id: on the child, in the client's position, on the bus. The parent's state follows from its
children's (`derive`, forward moves per the transition table). Events of another region's
children at our venues are relayed to it; fills of orders the region's WASM algos placed
count in the deploying client's position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from seqmesh.runtime.proto import edge_pb2 as pb

from ..bus import Bus, FillBooked, OrderUpdated
from ..clock import Clock
from ..domain import PARENT_TERMINAL, Child, ChildState, Fill, IllegalTransition, OrderType, Parent, ParentState, Side
from ..positions import Positions
from ..startup import Cursors
from ..store import LedgerStore
from .cache import OrderCache

log = logging.getLogger(__name__)


class Relay(Protocol):
    def relay(self, venue: str, ev: pb.OrderEvent) -> bool:
        """True if the event is another region's child's, and went back to it."""
        ...

    async def relay_late(self, venue: str, ev: pb.OrderEvent) -> bool:
        """The same for a child no longer in memory (a late event of a final one)."""
        ...


def derive(p: Parent, max_reroutes: int) -> ParentState | None:
    """The state a (market or limit) parent's children put it in; None while a market remainder
    waits to be routed again."""
    live = [c for c in p.children if not c.settled]
    if p.filled == p.qty:
        return ParentState.FILLED
    if live:
        return (ParentState.PENDING_CANCEL if p.cancel_requested
                else ParentState.PARTIALLY_FILLED if p.filled else ParentState.WORKING)
    if p.cancel_requested:
        return ParentState.CANCELED
    if p.type is OrderType.MARKET and p.reroutes < max_reroutes and p.children:
        return None  # the remainder will be routed again
    if p.children and all(c.state == ChildState.REJECTED for c in p.children):
        return ParentState.REJECTED
    return ParentState.EXPIRED


class Booking:
    def __init__(self, store: LedgerStore, cursors: Cursors, cache: OrderCache, positions: Positions, bus: Bus,
                 clock: Clock, max_reroutes: int, algo_owner: Callable[[str, str], tuple[str, str] | None],
                 fee_rate: Callable[[str, str], Decimal | None] = lambda asset, quote: None) -> None:
        self.ledger = store
        self.cursors = cursors
        self.cache = cache
        self.positions = positions
        self.bus = bus
        self.clock = clock
        self.max_reroutes = max_reroutes
        #: (venue, client order id) -> (client, algo) for orders the region's WASM algos placed
        self.algo_owner = algo_owner
        #: price of a fee asset in a quote currency (a chain's gas token), from market data
        self.fee_rate = fee_rate
        self.relay: Relay | None = None
        self.fills_booked = 0
        self.duplicate_fills = 0
        self.algo_fills_booked = 0
        self.illegal_transitions = 0

    async def on_edge_events(self, venue: str, events: list[pb.OrderEvent]) -> None:
        """Book a batch of an edge's order events in one transaction, with the stream cursor."""
        found: dict[str, tuple[Parent, Child] | None] = {}
        for ev in events:  # reads first (older orders come from the ledger), then one transaction
            cid = ev.client_order_id
            if cid in found or (self.relay is not None and self.relay.relay(venue, ev)):
                continue
            hit = await self.cache.child(cid)
            if (hit is None and self.relay is not None and self.algo_owner(venue, cid) is None
                    and await self.relay.relay_late(venue, ev)):
                continue  # its next events relay at once
            found[cid] = hit
        with self.ledger.atomic():
            for ev in events:
                if ev.client_order_id not in found:
                    continue  # relayed to its origin region
                hit = found[ev.client_order_id]
                if hit is not None:
                    self.apply(hit[0], hit[1], venue, ev)
                elif ev.HasField("fill"):
                    self._book_algo_fill(venue, ev)
            self.cursors.set(venue, events[-1].seq)
        await self.ledger.durable()

    def apply(self, parent: Parent, child: Child, venue: str, ev: pb.OrderEvent) -> bool:
        """Apply one of the child's events; False if it was applied before. An edge's stream is
        in order, but one child's events can come by two ways at once (a home region replaying
        what its origin missed while relaying new ones live), so an event at or below the last
        applied may still carry a fill never booked: its state is past, its fill is not (fills
        are booked once by their venue fill id, whichever way they come)."""
        late = ev.seq <= child.last_seq
        if late and not ev.HasField("fill"):
            return False
        if not late:
            try:
                child.transition(ChildState(pb.OrderState.Name(ev.state)))
            except IllegalTransition:
                # A bug on one side or the other: say so loudly, but never drop the money (the fill below).
                self.illegal_transitions += 1
                log.exception("edge event %s of %s at %s", ev.seq, child.child_id, venue)
            child.last_seq = ev.seq
            child.sent = True
            child.venue_order_id = ev.venue_order_id or child.venue_order_id
            if ev.reason:
                child.reason = ev.reason
            if ev.quantity:
                self.adopt_terms(parent, child, Decimal(ev.quantity), Decimal(ev.price) if ev.price else None)
        booked = ev.HasField("fill") and self._book_fill(parent, child, venue, ev.fill, late)
        if late and not booked:
            return False
        child.updated_ns = self.clock.now_ns()
        self.ledger.save_child(child, "edge_event")
        self.settle(parent)
        return True

    def adopt_terms(self, parent: Parent, child: Child, qty: Decimal, price: Decimal | None) -> bool:
        """The quantity and limit the edge holds the child at (an amend changed them, answered or
        learnt from its event stream after a crash): the parent's quantity moves by the same
        amount, and a one-child parent's limit is its child's. False if nothing changed."""
        if (qty, price) == (child.qty, child.price):
            return False
        parent.qty += qty - child.qty
        child.qty, child.price = qty, price
        if len(parent.children) == 1:
            parent.price = price
        parent.decision.pop("amend", None)  # the amend asked for (if any) is settled
        parent.updated_ns = child.updated_ns = self.clock.now_ns()
        self.ledger.save_parent(parent, "amended")
        self.ledger.save_child(child, "amended")
        return True

    def _book_fill(self, parent: Parent, child: Child, venue: str, f: pb.Fill, late: bool) -> bool:
        fill = Fill(f.fill_id, child.child_id, parent.order_id, venue, parent.symbol, parent.side,
                    Decimal(f.price), Decimal(f.qty), *self._fee(f, parent.symbol), f.maker, f.exchange_ts,
                    self.clock.now_ns())
        if not self.ledger.add_fill(fill):
            if not late:  # a late event's fill booked before is the normal case of a replay
                self.duplicate_fills += 1
            return False
        if late:
            log.warning("fill %s of %s came in an event older than the last applied (%s): booked",
                        fill.fill_id, child.child_id, child.last_seq)
        parent.fills.append(fill)
        child.filled += fill.qty
        child.cum_quote += fill.price * fill.qty
        self.positions.apply(parent.client, fill)
        self.fills_booked += 1
        self.bus.publish(FillBooked(parent.client, fill, parent))
        return True

    def _fee(self, f: pb.Fill, symbol: str) -> tuple[Decimal, str]:
        """The fill's fee as the ledger keeps it: in the venue's asset when that is the pair's base
        or quote; a third asset (a chain's gas token: ETH for a BTC/USDT swap, SOL) valued in the
        quote at the market's price now, since positions and TCA count fees in the quote. The
        venue's own figure stays in the edge's journal and on chain."""
        fee = Decimal(f.fee)
        base, quote = symbol.split("/")
        if f.fee_asset in (base, quote) or not fee:
            return fee, f.fee_asset
        rate = self.fee_rate(f.fee_asset, quote)
        return (fee, f.fee_asset) if rate is None else (fee * rate, quote)

    def settle(self, p: Parent, persist: bool = True) -> None:
        """Bring the parent's state up to date with its children's, and tell the bus."""
        if p.type.is_algo:  # an execution algorithm's state is its scheduler's (execalgos/)
            self.bus.publish(OrderUpdated(p))
            return
        target = derive(p, self.max_reroutes)
        if target is not None and target != p.state:
            if target is ParentState.REJECTED:
                p.reason = "; ".join(sorted({f"{c.venue}: {c.reason}" for c in p.children if c.reason}))
            p.transition(target)
            p.updated_ns = self.clock.now_ns()
            if persist or target in PARENT_TERMINAL:
                self.ledger.save_parent(p, "state")
            if target in PARENT_TERMINAL:
                self.cache.finished(p)
        self.bus.publish(OrderUpdated(p))

    def _book_algo_fill(self, venue: str, ev: pb.OrderEvent) -> None:
        """A fill of an order a WASM algo placed on the edge: the deploying client's position (and
        so its risk limits) includes it, exactly once."""
        owner = self.algo_owner(venue, ev.client_order_id)
        if owner is None:
            return
        client, algo = owner
        f = ev.fill
        fill = Fill(f.fill_id, ev.client_order_id, "", venue, ev.symbol, Side.BUY if ev.side == pb.BUY else Side.SELL,
                    Decimal(f.price), Decimal(f.qty), *self._fee(f, ev.symbol), f.maker, f.exchange_ts,
                    time.time_ns())
        if self.ledger.add_algo_fill(client, algo, fill):
            self.positions.apply(client, fill)
            self.algo_fills_booked += 1
            self.bus.publish(FillBooked(client, fill, None))
