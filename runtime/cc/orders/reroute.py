"""A market order's remainder that no venue filled (an IOC remainder a venue expired, a venue
that refused) is routed again among the venues that did not refuse it, a bounded number of
times, with a short pause between attempts so books can refill."""

from __future__ import annotations

import asyncio
from typing import Any

from ..bus import Bus, OrderUpdated
from ..domain import PARENT_TERMINAL, ChildState, OrderType, Parent
from ..marketdata import MarketData
from ..routing.candidates import Candidates
from ..routing.sor import Router
from ..store import LedgerStore
from .booking import Booking
from .dispatch import Dispatcher
from .routes import children_of


class Rerouter:
    def __init__(self, bus: Bus, ledger: LedgerStore, marketdata: MarketData, candidates: Candidates, router: Router,
                 booking: Booking, dispatcher: Dispatcher, max_reroutes: int) -> None:
        self.ledger = ledger
        self.marketdata = marketdata
        self.candidates = candidates
        self.router = router
        self.booking = booking
        self.dispatcher = dispatcher
        self.max_reroutes = max_reroutes
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: set[str] = set()
        bus.subscribe(OrderUpdated, self._on_order)

    def _on_order(self, ev: OrderUpdated) -> None:
        p = ev.parent
        if (p.type is not OrderType.MARKET or p.cancel_requested or p.state in PARENT_TERMINAL
                or p.order_id in self._pending or p.reroutes >= self.max_reroutes):
            return
        if any(not c.settled for c in p.children) or p.open_qty <= 0:
            return
        self._pending.add(p.order_id)
        task = asyncio.get_running_loop().create_task(self._reroute(p))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reroute(self, p: Parent) -> None:
        try:
            await asyncio.sleep(0.02 * p.reroutes)  # let books refill between attempts
            remainder = p.open_qty
            if remainder <= 0 or any(not c.settled for c in p.children) or p.cancel_requested:
                return
            p.reroutes += 1
            tried = frozenset(c.venue for c in p.children if c.state == ChildState.REJECTED)
            route = self.router.route(p.side, remainder, self.candidates(p.symbol, p.side, tried, p.client), None,
                                      self.marketdata.mid(p.symbol))
            p.decision.setdefault("reroutes", []).append(route.summary())
            now = self.booking.clock.now_ns()
            children = children_of(p, route, self.candidates.tick, now) if route.allocations else []
            with self.ledger.atomic():
                self.ledger.save_parent(p, "rerouted")
                for c in children:
                    self.ledger.save_child(c, "routed")
            self.booking.cache.add_children(children)
            self.booking.cursors.venues_routed.update(c.venue for c in children)
            await self.ledger.durable()
        finally:
            self._pending.discard(p.order_id)
        if children:
            await self.dispatcher.send(p, children)
        self.booking.settle(p)  # no children: the next attempt, or expired once none are left
