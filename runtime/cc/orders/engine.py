"""The order engine: what the API asks of orders — submit, cancel, the kill switch.

submit: validate -> risk -> route (SOR) -> parent and children written ahead to the ledger ->
children dispatched to their edges. Everything after (events, fills, parent state, reroutes)
is booking's and dispatch's. An execution algorithm's slices come through `submit` too, as
orders of their own that name their algorithm (`algo_parent`), so every slice passes the
same risk, routing and children path as any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..bus import Bus, OrderUpdated
from ..clock import Clock
from ..domain import PARENT_TERMINAL, Child, OrderType, Parent, ParentState, Side, TimeInForce
from ..errors import OrderError
from ..marketdata import MarketData
from ..risk import RiskDenied, RiskEngine, kill_switch_flag
from ..routing.candidates import Candidates
from ..routing.sor import Route, Router, VenueCandidate
from ..startup import Cursors
from ..store import LedgerStore, StoreConflict
from .booking import Booking
from .cache import OrderCache
from .dispatch import Dispatcher
from .idempotency import same_order
from .ids import OrderIds
from .routes import children_of, venue_limit
from .validate import untakeable, validate

ZERO = Decimal(0)


@dataclass(frozen=True)
class Prepared:
    """An order checked and ready for the router: what submit routes and a preview shows."""

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal | None
    candidates: list[VenueCandidate]
    ref: Decimal | None  # the price risk values it at: its limit, else the far side of the book, else the mid
    mid: Decimal | None  # the NBBO mid: the decision's arrival price
    tif: TimeInForce = TimeInForce.GTC


class OrderEngine:
    def __init__(self, ledger: LedgerStore, cache: OrderCache, marketdata: MarketData, candidates: Candidates,
                 router: Router, risk: RiskEngine, booking: Booking, dispatcher: Dispatcher, bus: Bus,
                 clock: Clock, ids: OrderIds, cursors: Cursors) -> None:
        self.ledger = ledger
        self.cursors = cursors
        self.cache = cache
        self.marketdata = marketdata
        self.candidates = candidates
        self.router = router
        self.risk = risk
        self.booking = booking
        self.dispatcher = dispatcher
        self.bus = bus
        self.clock = clock
        self.ids = ids

    def working_qty(self, client: str, symbol: str) -> Decimal:
        """The client's signed quantity still working in `symbol`. An execution algorithm counts
        its whole unfilled quantity, and its slices nothing of their own, so each slice counts
        once: inside its algorithm's remainder."""
        total = ZERO
        for p in self.cache.live_of(client, symbol):
            if p.algo_parent:
                continue
            if p.type.is_algo:
                total += (p.qty - p.filled) * p.side.sign
            else:
                total += sum((c.qty - c.filled for c in p.children if not c.done), ZERO) * p.side.sign
        return total

    async def submit(self, client: str, symbol: str, side: Side, qty: Decimal, type: OrderType,
                     price: Decimal | None, client_order_id: str | None,
                     algo_parent: Parent | None = None, tif: TimeInForce = TimeInForce.GTC) -> tuple[Parent, bool]:
        """Returns (order, created); an order already known by its client order id is returned as is."""
        if client_order_id:
            known = await self.cache.by_client_order_id(client, client_order_id)
            if known is not None:
                return same_order(known, symbol, side, qty, type, price, tif=tif), False
        order = self.prepare(symbol, side, qty, type, price, tif, client)
        working = self.working_qty(client, symbol)
        if algo_parent is not None:
            working -= qty * side.sign  # the slice is carved out of its algorithm's remainder: once
        try:
            self.risk.check(client, symbol, side, qty, order.ref, working)
        except RiskDenied as d:
            raise OrderError(d.code, d.message, 403, limit=d.limit, value=d.value) from None
        route = self.route(order)
        now = self.clock.now_ns()
        decision: dict[str, Any] = {"route": route.summary(), "decided_ns": now}
        if algo_parent is not None:
            decision["algo_parent"] = algo_parent.order_id
        if tif is not TimeInForce.GTC:
            decision["time_in_force"] = tif.value
        parent = Parent(self.ids.next(), client, client_order_id or "", symbol, side, type, qty, price,
                        ParentState.NEW, now, now, decision=decision)
        children = children_of(parent, route, self.candidates.tick, now)
        try:
            with self.ledger.atomic():
                self.ledger.save_parent(parent, "accepted")
                for child in children:
                    self.ledger.save_child(child, "routed")
        except StoreConflict:
            raise self._taken(parent) from None
        self.cursors.venues_routed.update(c.venue for c in children)
        self.cache.add(parent)  # a resubmit while this one commits gets this order
        await self._write_ahead(parent)
        self.cache.go_live(parent)
        self.bus.publish(OrderUpdated(parent))
        await self.dispatcher.send(parent, children)
        return parent, True

    def prepare(self, symbol: str, side: Side, qty: Decimal, type: OrderType, price: Decimal | None,
                tif: TimeInForce = TimeInForce.GTC, client: str = "") -> Prepared:
        """A valid order, the venues it may route to (capped by the accounts `client`'s orders trade
        on) and its reference prices (refusals raised)."""
        validate(symbol, qty, type, price, self.marketdata.venue_books(symbol), tif)
        candidates = self.candidates(symbol, side, client=client)
        if not candidates:
            raise OrderError("NO_LIVE_VENUE", f"no connected venue has a live {symbol} book", 409)
        best_bid, best_ask = self.marketdata.best(symbol)
        far = best_ask if side is Side.BUY else best_bid
        ref = price if price is not None else (far if far is not None else self.marketdata.mid(symbol))
        mid = (best_bid + best_ask) / 2 if best_bid is not None and best_ask is not None else None
        return Prepared(symbol, side, qty, price, candidates, ref, mid, tif)

    def route(self, order: Prepared, must_place: bool = True) -> Route:
        """The router's decision on the books now; `must_place`: refuse one that places nothing."""
        route = self.router.route(order.side, order.qty, order.candidates, order.price, order.mid, order.tif)
        if must_place and not route.allocations:  # never a parent left `new` without children
            raise untakeable(order.symbol, order.qty, order.price, order.ref, order.candidates, order.tif)
        return route

    async def accept(self, parent: Parent) -> None:
        """Write ahead an order that routes nothing itself (an execution algorithm's parent)."""
        try:
            with self.ledger.atomic():
                self.ledger.save_parent(parent, "accepted")
        except StoreConflict:
            raise self._taken(parent) from None
        self.cache.add(parent)
        await self._write_ahead(parent)
        self.cache.go_live(parent)
        self.bus.publish(OrderUpdated(parent))

    async def _write_ahead(self, parent: Parent) -> None:
        """Committed before any edge hears of it; a parent that did not commit is forgotten."""
        try:
            await self.ledger.durable()
        except StoreConflict:  # another request with its client order id committed first
            self.cache.forget(parent)
            raise self._taken(parent) from None
        except BaseException:
            self.cache.forget(parent)
            raise

    @staticmethod
    def _taken(parent: Parent) -> OrderError:
        return OrderError("DUPLICATE_CLIENT_ORDER_ID", f"client order id {parent.client_order_id!r} was taken by a "
                          "concurrent request; resubmit to get that order", 409)

    async def cancel(self, parent: Parent) -> Parent:
        if parent.state in PARENT_TERMINAL:
            raise OrderError("NOT_CANCELABLE", f"order {parent.order_id} is already {parent.state}", 409)
        parent.cancel_requested = True
        parent.updated_ns = self.clock.now_ns()
        if parent.type.is_algo:  # its scheduler cancels its slices and settles it (OrderUpdated)
            parent.transition(ParentState.PENDING_CANCEL)
        self.ledger.save_parent(parent, "cancel_requested")
        await self.ledger.durable()
        await self.dispatcher.cancel(parent.children)
        self.booking.settle(parent)
        return parent

    async def amend(self, parent: Parent, qty: Decimal | None, price: Decimal | None) -> Parent:
        """A resting limit order's new total quantity and/or limit, amended in place at its one
        venue (docs/api.md). The request is written ahead in the order's decision; the edge's
        answer (or, after a crash, its event stream) settles the order's terms."""
        child = self._amendable(parent)
        assert parent.price is not None
        new_qty = parent.qty if qty is None else qty
        new_price = parent.price if price is None else price
        if new_qty <= parent.filled:
            raise OrderError("NOT_AMENDABLE", f"quantity {new_qty} must be above the {parent.filled} already filled",
                             409)
        validate(parent.symbol, new_qty, OrderType.LIMIT, new_price, self.marketdata.venue_books(parent.symbol))
        if new_qty > parent.qty:  # more at risk: checked like the order's own rest
            try:
                self.risk.check(parent.client, parent.symbol, parent.side, new_qty - parent.qty, new_price,
                                self.working_qty(parent.client, parent.symbol))
            except RiskDenied as d:
                raise OrderError(d.code, d.message, 403, limit=d.limit, value=d.value) from None
        child_qty = child.qty + new_qty - parent.qty
        child_price = venue_limit(parent, new_price, child.venue, self.candidates.tick)
        parent.decision["amend"] = {"quantity": str(new_qty), "price": str(new_price)}
        parent.updated_ns = self.clock.now_ns()
        self.ledger.save_parent(parent, "amend_requested")
        await self.ledger.durable()
        ack = await self.dispatcher.amend(child, child_qty, child_price)
        if ack.amended:
            self.booking.adopt_terms(parent, child, Decimal(ack.quantity), Decimal(ack.price))
            parent.price = new_price  # the client's limit (its child's is on the venue's tick)
        parent.decision.pop("amend", None)
        if ack.amended:
            parent.decision.setdefault("amends", []).append({"quantity": str(new_qty), "price": str(new_price),
                                                             "at_ns": parent.updated_ns})
        self.ledger.save_parent(parent, "amended" if ack.amended else "amend_refused")
        await self.ledger.durable()
        self.bus.publish(OrderUpdated(parent))
        if not ack.amended:
            raise OrderError("AMEND_REFUSED", f"order {parent.order_id} was not amended: {ack.reason}", 409)
        return parent

    @staticmethod
    def _amendable(parent: Parent) -> Child:
        """The one live child a client's resting limit order has; refusals name why not."""
        def refuse(why: str) -> OrderError:
            return OrderError("NOT_AMENDABLE", f"order {parent.order_id} cannot be amended: {why}", 409)

        if parent.type.is_algo or parent.algo_parent:
            raise refuse("an execution algorithm's orders are its own (cancel the algorithm and place it again)")
        if parent.type is not OrderType.LIMIT or parent.tif is TimeInForce.FOK:
            raise refuse(f"only a resting limit order can be, not a {parent.tif.value} {parent.type.value} order")
        if parent.state in PARENT_TERMINAL:
            raise refuse(f"it is {parent.state.value}")
        if parent.cancel_requested:
            raise refuse("it is being cancelled")
        live = [c for c in parent.children if not c.done]
        if len(parent.children) != 1 or len(live) != 1:
            raise refuse(f"it went to {len(parent.children)} venues: cancel it and place a new order")
        return live[0]

    async def set_kill_switch(self, on: bool, client: str | None = None) -> int:
        """Turn a kill switch on (cancelling the working orders it covers) or off; returns orders
        cancelled. `client`: that client's own switch (its orders only); None: the region's."""
        if client is None:
            self.risk.kill_switch = on
        else:
            self.risk.set_client_kill_switch(client, on)
        self.ledger.set_flag(kill_switch_flag(client), "on" if on else "off")
        await self.ledger.durable()
        if not on:
            return 0
        live = [p for p in self.cache.live_parents() if client is None or p.client == client]
        for p in live:
            if p.state not in PARENT_TERMINAL:
                await self.cancel(p)
        return len(live)
