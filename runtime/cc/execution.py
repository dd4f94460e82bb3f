"""Execution: a client's order from validation to fills.

validate -> risk -> route (SOR) -> parent and children written to the ledger -> children
sent to their edges -> order events and fills streamed back, booked exactly once -> parent
state derived from its children (one table, model.TRANSITIONS). A market order's remainder
that no venue filled is routed again, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.store.recent import RecentFinal

from .config import CCSettings
from .edges import EdgeLink
from .ledger import Ledger
from .marketdata import MarketData
from .model import CHILD_TERMINAL, TERMINAL, TRANSITIONS, Child, Fill, OrderType, Parent, ParentState, Side
from .peers import PeerMesh
from .positions import Positions
from .risk import RiskDenied, RiskEngine
from .sor import Route, Router, VenueCandidate

log = logging.getLogger(__name__)
ZERO = Decimal(0)
BOOKING_COMMIT_DELAY_S = 0.002
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class OrderError(Exception):
    """A request refused before anything is written; `status` is the HTTP status to answer."""

    def __init__(self, code: str, message: str, status: int = 400, **detail: str) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.detail = code, message, status, detail


def _b36(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _B36[r] + out
    return out or "0"


class ExecutionEngine:
    def __init__(self, settings: CCSettings, ledger: Ledger, marketdata: MarketData, router: Router) -> None:
        self.settings = settings
        self.ledger = ledger
        self.marketdata = marketdata
        self.router = router
        self.edges: dict[str, EdgeLink] = {}
        #: parents not yet final: what risk, reservations and recovery look at (never the whole history)
        self.live = ledger.live_parents(TERMINAL)
        #: the most recent final parents; older ones are read from the ledger when asked for, so
        #: memory, start-up and garbage collection do not grow with the history
        self.recent = RecentFinal[Parent](settings.final_orders_in_memory, self._unindex)
        #: lookups over the parents in memory (live and recent)
        self.by_client_id: dict[tuple[str, str], Parent] = {}
        self.children: dict[str, Child] = {}
        for parent in self.live.values():
            self._index(parent)
        self.positions = Positions()
        self.positions.rebuild(itertools.chain(ledger.client_fills(), ledger.algo_fills()))
        #: (venue, client order id) -> (client, algo) for orders the region's WASM algos placed (set by the app)
        self.algo_order: Callable[[str, str], tuple[str, str] | None] = lambda venue, cid: None
        #: called (client, symbol, why) when algo fills take a client beyond its position limit
        self.on_algo_breach: Callable[[str, str, str], Any] | None = None
        self.algo_fills_booked = 0
        self.risk = RiskEngine(settings.risk, self.positions, marketdata.mid,
                               kill_switch=ledger.flag("kill_switch") == "on")
        for parent in list(self.live.values()):  # states are derived: bring them up to date after a restart
            self._derive(parent)
        self._ids = itertools.count()
        self._prefix = "".join(ch for ch in settings.region if ch.isalnum())[:3] or "cc"
        self._tasks: set[asyncio.Task[Any]] = set()
        self.mesh: PeerMesh | None = None
        self._in_flight: set[str] = set()
        #: reservations granted to other regions' children, until the venue balance shows them
        self._pending_remote: dict[str, tuple[str, Decimal]] = {}
        #: children other regions routed to our edges: child id -> (origin region, venue)
        self.remote_children = ledger.remote_children()
        self.remote_view: dict[str, dict[str, Any]] = {}
        self.fills_booked = 0
        self.duplicate_fills = 0

    # -- ids -------------------------------------------------------------------------------

    def _new_order_id(self) -> str:
        # region + microseconds + a per-process counter: unique across restarts, <= 20 characters.
        return f"{self._prefix}{_b36(time.time_ns() // 1000)}{_b36(next(self._ids) % 1296).rjust(2, '0')}"

    # -- submit ----------------------------------------------------------------------------

    async def submit(self, client: str, symbol: str, side: Side, qty: Decimal, type: OrderType,
                     price: Decimal | None, client_order_id: str | None) -> tuple[Parent, bool]:
        """Returns (order, created); an order already known by its client order id is returned as is."""
        if client_order_id:
            known = self.by_client_id.get((client, client_order_id))
            if known is None:
                known = self.ledger.parent_by_client_id(client, client_order_id)  # final, if anything
                if known is not None:
                    self._keep_final(known)
            if known is not None:
                return known, False
        books = self.marketdata.venue_books(symbol)
        if not books:
            raise OrderError("UNKNOWN_SYMBOL", f"no venue lists {symbol!r}; see GET /v1/pairs", 400)
        if qty <= 0:
            raise OrderError("NON_POSITIVE_QUANTITY", "quantity must be positive", 400)
        if type is OrderType.LIMIT and price is None:
            raise OrderError("LIMIT_WITHOUT_PRICE", "a limit order needs a price", 400)
        if type is OrderType.MARKET and price is not None:
            raise OrderError("MARKET_WITH_PRICE", "a market order takes no price", 400)
        finest_lot = min(vb.qtys.step for vb in books)
        if qty % finest_lot:
            raise OrderError("PRECISION", f"quantity {qty} is finer than the smallest lot {finest_lot} "
                             f"of any venue listing {symbol}", 400)
        if price is not None:
            if price <= 0:
                raise OrderError("NON_POSITIVE_PRICE", "price must be positive", 400)
            finest_tick = min(vb.prices.step for vb in books)
            if price % finest_tick:
                raise OrderError("PRECISION", f"price {price} is finer than the smallest tick {finest_tick}", 400)
        candidates = self._candidates(symbol, side)
        if not candidates:
            raise OrderError("NO_LIVE_VENUE", f"no connected venue has a live {symbol} book", 409)
        best_bid, best_ask = self.marketdata.best(symbol)
        far = best_ask if side is Side.BUY else best_bid
        ref = price if price is not None else (far if far is not None else self.marketdata.mid(symbol))
        working = sum(((c.qty - c.filled) * p.side.sign for p in self.live.values()
                       if p.client == client and p.symbol == symbol for c in p.children if not c.done), ZERO)
        try:
            self.risk.check(client, symbol, side, qty, ref, working)
        except RiskDenied as d:
            raise OrderError(d.code, d.message, 403, limit=d.limit, value=d.value) from None
        mid = (best_bid + best_ask) / 2 if best_bid is not None and best_ask is not None else None
        route = self.router.route(side, qty, candidates, price, mid)
        if type is OrderType.MARKET and not route.allocations:
            raise OrderError("NO_LIQUIDITY", f"no live venue can fill any of {qty} {symbol} now", 409)
        now = time.time_ns()
        parent = Parent(self._new_order_id(), client, client_order_id or "", symbol, side, type, qty, price,
                        ParentState.NEW, now, now, decision={"route": route.summary(), "decided_ns": now})
        children = self._children(parent, route)
        self.ledger.begin_group()
        with self.ledger:
            self.ledger.save_parent(parent, "accepted")
            for child in children:
                self.ledger.save_child(child, "routed")
        # Known by its client order id at once: a resubmit while this one commits gets this order.
        self._index(parent)
        try:
            await self.ledger.durable()  # written ahead: committed before any edge hears of it
        except BaseException:
            self._unindex(parent)
            raise
        self.live[parent.order_id] = parent
        await self._send(parent, children)
        return parent, True

    def _candidates(self, symbol: str, side: Side, exclude: frozenset[str] = frozenset()) -> list[VenueCandidate]:
        buy = side is Side.BUY
        base, quote = symbol.split("/")
        out = []
        for vb in self.marketdata.venue_books(symbol, live_only=True):
            link = self.edges.get(vb.venue)
            inst = link.instrument(symbol) if link else None
            if link is None or not link.connected or inst is None or vb.venue in exclude or vb.remote:
                continue
            reserved = self._reserved(vb.venue, quote if buy else base)
            cap = max(link.free(quote if buy else base) - reserved, ZERO)
            out.append(VenueCandidate(
                vb.venue, functools.partial(vb.level_at, not buy), link.taker_fee, link.maker_fee, link.rtt_ms,
                Decimal(inst.lot), Decimal(inst.min_qty), Decimal(inst.min_notional), Decimal(inst.tick),
                balance_cap=cap, region=vb.region, remote=vb.remote,
            ))
        out += self._remote_candidates(symbol, side, exclude)
        return out

    def _remote_candidates(self, symbol: str, side: Side, exclude: frozenset[str]) -> list[VenueCandidate]:
        """Venues of other regions, through their home CC: the peer round trip is part of their cost."""
        mesh = self.mesh
        if mesh is None:
            return []
        buy = side is Side.BUY
        base, quote = symbol.split("/")
        out = []
        for vb in self.marketdata.venue_books(symbol, live_only=True):
            peer = mesh.home_of(vb.venue) if vb.remote else None
            if peer is None or vb.venue in exclude or not mesh.routable(vb.venue):
                continue
            v = peer.venues[vb.venue]
            inst = next((i for i in v.info.instruments if i.symbol == symbol), None)
            if inst is None:
                continue
            asset = quote if buy else base
            free = next((Decimal(b.free) for b in v.balances if b.asset == asset), ZERO)
            out.append(VenueCandidate(
                vb.venue, functools.partial(vb.level_at, not buy), Decimal(v.info.taker_fee or "0"),
                Decimal(v.info.maker_fee or "0"), v.edge_rtt_ms, Decimal(inst.lot), Decimal(inst.min_qty),
                Decimal(inst.min_notional), Decimal(inst.tick), balance_cap=max(free - self._reserved(vb.venue, asset),
                                                                              ZERO),
                region=peer.region, remote=True, extra_latency_ms=peer.rtt_ms or 0.0,
            ))
        return out

    def _reserved(self, venue: str, asset: str) -> Decimal:
        """What live children already committed at a venue, not yet reflected in its balance."""
        total = ZERO
        for p in self.live.values():
            base, quote = p.symbol.split("/")
            for c in p.children:
                if c.venue != venue or c.done or c.sent:
                    continue  # once the edge has it, the venue's locked balance shows it
                if p.side is Side.BUY and asset == quote:
                    total += (c.qty - c.filled) * (c.price or self._ref(p))
                elif p.side is Side.SELL and asset == base:
                    total += c.qty - c.filled
        return total

    def _ref(self, p: Parent) -> Decimal:
        return self.marketdata.mid(p.symbol) or ZERO

    def _children(self, parent: Parent, route: Route) -> list[Child]:
        now = time.time_ns()
        start = len(parent.children)
        out = []
        for k, a in enumerate(route.allocations, start):
            price = None
            if parent.type is OrderType.LIMIT:
                assert parent.price is not None
                tick = self._tick(a.venue, parent.symbol)
                steps = parent.price / tick
                # Round to the venue's tick without ever worsening the client's limit.
                price = (steps.to_integral_value("ROUND_FLOOR" if parent.side is Side.BUY else "ROUND_CEILING")
                         * tick)
            child = Child(f"{parent.order_id}-{_b36(k)}", parent.order_id, a.venue, a.qty, price,
                          parent.type, created_ns=now, updated_ns=now)
            parent.children.append(child)
            self.children[child.child_id] = child
            out.append(child)
        return out

    async def _send(self, parent: Parent, children: list[Child]) -> None:
        await asyncio.gather(*(self._send_child(parent, c) for c in children))

    def _tick(self, venue: str, symbol: str) -> Decimal:
        link = self.edges.get(venue)
        inst = link.instrument(symbol) if link else None
        if inst is None and self.mesh is not None and (peer := self.mesh.home_of(venue)) is not None:
            inst = next((i for i in peer.venues[venue].info.instruments if i.symbol == symbol), None)
        if inst is None:
            raise OrderError("NO_LIVE_VENUE", f"{venue} does not list {symbol} any more", 409)
        return Decimal(inst.tick)

    async def _send_child(self, parent: Parent, child: Child) -> None:
        if child.child_id in self._in_flight:
            return  # already on its way (the resend sweep must not race the first send)
        self._in_flight.add(child.child_id)
        try:
            await self._send_child_once(parent, child)
        finally:
            self._in_flight.discard(child.child_id)

    async def _send_child_once(self, parent: Parent, child: Child) -> None:
        req = pb.SubmitOrder(client_order_id=child.child_id, symbol=parent.symbol,
                             side=pb.BUY if parent.side is Side.BUY else pb.SELL,
                             type=pb.LIMIT if child.type is OrderType.LIMIT else pb.MARKET,
                             quantity=str(child.qty), price="" if child.price is None else str(child.price))
        link = self.edges.get(child.venue)
        try:
            if link is not None:
                if not link.connected:
                    return  # the resend sweep retries once the edge is back
                ack = await link.client.submit_streamed(req, timeout=15)
            elif self.mesh is not None and self.mesh.home_of(child.venue) is not None:
                ack = await self.mesh.allocate(child.venue, req)  # AllocateRemote to the venue's home CC
                if ack.state == pb.ORDER_STATE_UNSPECIFIED:
                    log.warning("remote %s at %s not placed: %s; will resend", child.child_id, child.venue,
                                ack.reason)
                    return
            else:
                return
        except grpc.aio.AioRpcError as exc:
            log.warning("submit %s to %s failed: %s; will resend", child.child_id, child.venue, exc.code().name)
            return
        except (ConnectionError, TimeoutError) as exc:
            log.warning("remote submit %s to %s failed: %s; will resend", child.child_id, child.venue, exc)
            return
        child.sent = True
        if ack.events:  # the venue's answer: booked at once (the event stream repeats it, skipped then)
            self.ledger.begin_group()
            with self.ledger:
                for ev in ack.events:
                    self._apply_event(parent, child, child.venue, ev)
            # Committed shortly, not waited for: after a crash of this CC the edge's stream
            # replays them from the ledger's cursor (and an edge that crashed before committing
            # them records them again, from the venue). The delay lets the client's answer go
            # out before this commit's fsync holds the loop.
            self.ledger.commit_soon(BOOKING_COMMIT_DELAY_S)
            self._maybe_reroute(parent)
            return
        child.venue_order_id = ack.venue_order_id or child.venue_order_id
        if child.state == "PENDING_NEW":
            child.state = pb.OrderState.Name(ack.state)
            if ack.reason:
                child.reason = ack.reason
        child.updated_ns = time.time_ns()
        # An ack without events (a duplicate) is not written: the edge's event stream carries
        # the order's facts. A refusal before any edge saw the child (a denied reservation)
        # has no event stream: book it now.
        if ack.state == pb.REJECTED and child.venue not in self.edges:
            self.ledger.save_child(child, "refused")
            self._derive(parent)
            self._maybe_reroute(parent)

    async def resend_unsent(self) -> int:
        """Children written but never acknowledged by their edge (a crash or a dead link): send
        them again; the edge is idempotent on the child id, so a duplicate is harmless."""
        pending = [(p, c) for p in list(self.live.values()) for c in p.children if not c.sent and not c.done]
        for parent, child in pending:
            await self._send_child(parent, child)
            self._derive(parent)
        return len(pending)

    # -- cancel ----------------------------------------------------------------------------

    async def cancel(self, parent: Parent) -> Parent:
        if parent.state in TERMINAL:
            raise OrderError("NOT_CANCELABLE", f"order {parent.order_id} is already {parent.state}", 409)
        parent.cancel_requested = True
        parent.updated_ns = time.time_ns()
        self.ledger.save_parent(parent, "cancel_requested")
        await self.ledger.durable()
        await asyncio.gather(*(self._cancel_child(c) for c in parent.children if not c.done))
        self._derive(parent)
        return parent

    async def _cancel_child(self, child: Child) -> None:
        link = self.edges.get(child.venue)
        if link is None and self.mesh is not None:
            self.mesh.cancel_remote(child.venue, child.child_id)
            return
        if link is None or not link.connected:
            return
        try:
            await link.client.cancel(child.child_id, timeout=15)
        except grpc.aio.AioRpcError as exc:
            log.warning("cancel %s at %s failed: %s", child.child_id, child.venue, exc.code().name)

    async def set_kill_switch(self, on: bool) -> int:
        """Turn the kill switch on (cancelling every resting order) or off; returns orders cancelled."""
        self.risk.kill_switch = on
        self.ledger.set_flag("kill_switch", "on" if on else "off")
        await self.ledger.durable()
        if not on:
            return 0
        live = list(self.live.values())
        for p in live:
            await self.cancel(p)
        return len(live)

    # -- events from edges -----------------------------------------------------------------

    async def on_edge_events(self, venue: str, events: list[pb.OrderEvent]) -> None:
        """Book a batch of an edge's order events in one transaction, with the stream cursor."""
        touched: dict[str, Parent] = {}
        self.ledger.begin_group()
        with self.ledger:
            for ev in events:
                remote = self.remote_children.get(ev.client_order_id)
                if remote is not None and self.mesh is not None:
                    self._note_remote(ev, venue, remote[0])
                    self.mesh.relay(remote[0], venue, ev)
                found = self._child(ev.client_order_id) if remote is None else None
                if found is not None:
                    parent, child = found
                    if self._apply_event(parent, child, venue, ev):
                        touched[parent.order_id] = parent
                elif remote is None and ev.HasField("fill"):
                    self._book_algo_fill(venue, ev)
            self.ledger.set_cursor(venue, events[-1].seq)
        await self.ledger.durable()
        for parent in touched.values():
            self._maybe_reroute(parent)

    def _apply_event(self, parent: Parent, child: Child, venue: str, ev: pb.OrderEvent) -> bool:
        """Apply one of the child's events; False if it was applied before. A child's events
        arrive in sequence order with no gaps (the stream is ordered, an ack carries every event
        from the order's first), so one at or below the last applied is already booked."""
        if ev.seq <= child.last_seq:
            return False
        child.state = pb.OrderState.Name(ev.state)
        child.last_seq = ev.seq
        child.sent = True
        child.venue_order_id = ev.venue_order_id or child.venue_order_id
        if ev.reason:
            child.reason = ev.reason
        if ev.HasField("fill"):
            f = ev.fill
            fill = Fill(f.fill_id, child.child_id, parent.order_id, venue, parent.symbol, parent.side,
                        Decimal(f.price), Decimal(f.qty), Decimal(f.fee), f.fee_asset, f.maker, f.exchange_ts,
                        time.time_ns())
            if self.ledger.add_fill(fill):
                parent.fills.append(fill)
                child.filled += fill.qty
                child.cum_quote += fill.price * fill.qty
                self.positions.apply(parent.client, fill)
                self.fills_booked += 1
            else:
                self.duplicate_fills += 1
        child.updated_ns = time.time_ns()
        self.ledger.save_child(child, "edge_event")
        self._derive(parent)
        return True

    def _book_algo_fill(self, venue: str, ev: pb.OrderEvent) -> None:
        """A fill of an order an algo placed on the edge: the deploying client's position (and so its
        risk limits) includes it, exactly once."""
        owner = self.algo_order(venue, ev.client_order_id)
        if owner is None:
            return
        client, algo = owner
        f = ev.fill
        fill = Fill(f.fill_id, ev.client_order_id, "", venue, ev.symbol, Side.BUY if ev.side == pb.BUY else Side.SELL,
                    Decimal(f.price), Decimal(f.qty), Decimal(f.fee), f.fee_asset, f.maker, f.exchange_ts,
                    time.time_ns())
        if self.ledger.add_algo_fill(client, algo, fill):
            self.positions.apply(client, fill)
            self.algo_fills_booked += 1
            lim = self.settings.risk
            max_pos = lim.max_position.get(ev.symbol, lim.default_max_position)
            pos = self.positions.get(client, ev.symbol).qty
            if abs(pos) > max_pos and self.on_algo_breach is not None:
                asyncio.get_running_loop().create_task(self.on_algo_breach(
                    client, ev.symbol, f"POSITION_LIMIT: {ev.symbol} position {pos} beyond +/-{max_pos} "
                    f"after a fill of {algo}"))

    def _derive(self, p: Parent, persist: bool = True) -> None:
        """The parent's state from its children's (forward moves only, per the table)."""
        live = [c for c in p.children if not c.settled]
        filled = p.filled
        if filled == p.qty:
            target = ParentState.FILLED
        elif live:
            target = (ParentState.PENDING_CANCEL if p.cancel_requested
                      else ParentState.PARTIALLY_FILLED if filled else ParentState.WORKING)
        elif p.cancel_requested:
            target = ParentState.CANCELED
        elif p.type is OrderType.MARKET and p.reroutes < self.settings.router.max_reroutes and p.children:
            return  # the remainder will be routed again (_maybe_reroute)
        elif p.children and all(c.state == "REJECTED" for c in p.children):
            target = ParentState.REJECTED
            p.reason = "; ".join(sorted({f"{c.venue}: {c.reason}" for c in p.children if c.reason}))
        else:
            target = ParentState.EXPIRED
        if target != p.state and target in TRANSITIONS[p.state]:
            p.state = target
            p.updated_ns = time.time_ns()
            if persist or target in TERMINAL:
                self.ledger.save_parent(p, "state")
            if target in TERMINAL and self.live.pop(p.order_id, None) is not None:
                self._keep_final(p)

    def _maybe_reroute(self, p: Parent) -> None:
        if (p.type is not OrderType.MARKET or p.cancel_requested or p.state in
                TERMINAL):
            return
        if any(not c.settled for c in p.children) or p.open_qty <= 0:
            return
        task = asyncio.get_running_loop().create_task(self._reroute(p))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reroute(self, p: Parent) -> None:
        await asyncio.sleep(0.02 * p.reroutes)  # let books refill between attempts
        remainder = p.open_qty
        if remainder <= 0 or any(not c.settled for c in p.children):
            return
        p.reroutes += 1
        self.ledger.begin_group()
        tried = frozenset(c.venue for c in p.children if c.state == "REJECTED")
        route = self.router.route(p.side, remainder, self._candidates(p.symbol, p.side, tried), None,
                                  self.marketdata.mid(p.symbol))
        p.decision.setdefault("reroutes", []).append(route.summary())
        children = self._children(p, route) if route.allocations else []
        with self.ledger:
            self.ledger.save_parent(p, "rerouted")
            for c in children:
                self.ledger.save_child(c, "routed")
        await self.ledger.durable()
        if children:
            await self._send(p, children)
        self._derive(p)
        if not children:
            if p.reroutes >= self.settings.router.max_reroutes:
                self._derive(p)
            else:
                self._maybe_reroute(p)

    # -- the home side of cross-region orders ---------------------------------------------

    async def submit_remote(self, origin: str, alloc: Any) -> pb.OrderAck:
        """Another region routed a child to one of our edges: record it, then place it."""
        link = self.edges.get(alloc.venue)
        cid = alloc.order.client_order_id
        if link is None:
            return pb.OrderAck(client_order_id=cid, state=pb.REJECTED, reason=f"{alloc.venue} is not in this region")
        if not link.connected:
            return pb.OrderAck(client_order_id=cid, reason=f"edge {alloc.venue} is down")  # origin resends
        if cid not in self.remote_children:
            # The home region agrees the reservation: what its venue's account can still cover,
            # after every order already on its way there (ours and other regions'), is the limit.
            denial = self._reservation_denial(link, alloc.order)
            if denial:
                return pb.OrderAck(client_order_id=cid, state=pb.REJECTED, reason=f"RESERVATION_DENIED: {denial}")
            self.ledger.add_remote_child(cid, origin, alloc.venue)  # before the edge hears of it
            self.remote_children[cid] = (origin, alloc.venue)
            self._pending_remote[cid] = self._needs(link, alloc.order)
        try:
            return await link.client.submit(alloc.order, timeout=15)
        except grpc.aio.AioRpcError as exc:
            return pb.OrderAck(client_order_id=cid, reason=f"edge {alloc.venue}: {exc.code().name}")
        finally:
            # Once the venue has it, its own locked balance carries the reservation; the next
            # balance refresh (and the announcement to every peer) shows it.
            self._release_after_refresh(link, cid)

    def _release_after_refresh(self, link: EdgeLink, cid: str) -> None:
        async def release() -> None:
            link.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.changed.wait(), 5.0)
            self._pending_remote.pop(cid, None)

        task = asyncio.get_running_loop().create_task(release())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _needs(self, link: EdgeLink, order: pb.SubmitOrder) -> tuple[str, Decimal]:
        """(asset, amount) an order will lock at the venue (a market buy at the current ask + fee)."""
        base, quote = order.symbol.split("/")
        qty = Decimal(order.quantity)
        if order.side == pb.SELL:
            return base, qty
        price = Decimal(order.price) if order.price else (self.marketdata.best(order.symbol)[1] or ZERO)
        vb = self.marketdata.books.get((link.venue, order.symbol))
        if not order.price and vb is not None:
            # Sweeping costs more than the top: walk this venue's asks for the whole quantity.
            got, cost, i = ZERO, ZERO, 0
            while got < qty and (lvl := vb.level_at(False, i)) is not None:
                take = min(lvl[1], qty - got)
                got, cost, i = got + take, cost + take * lvl[0], i + 1
            if got:
                price = cost / got
        return quote, qty * price * (1 + link.taker_fee)

    def _reservation_denial(self, link: EdgeLink, order: pb.SubmitOrder) -> str | None:
        asset, need = self._needs(link, order)
        held = sum((amt for cid, (a, amt) in self._pending_remote.items()
                    if a == asset and self.remote_children.get(cid, ("", ""))[1] == link.venue), ZERO)
        free = link.free(asset) - held - self._reserved(link.venue, asset)
        if need > free:
            return f"{link.venue} can cover {max(free, ZERO)} {asset}, the order needs {need}"
        return None

    async def cancel_remote(self, frame: Any) -> None:
        link = self.edges.get(frame.venue)
        if link is not None and link.connected and frame.client_order_id in self.remote_children:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await link.client.cancel(frame.client_order_id, timeout=15)

    def _note_remote(self, ev: pb.OrderEvent, venue: str, origin: str) -> None:
        view = self.remote_view.setdefault(ev.client_order_id, {"child_id": ev.client_order_id, "origin": origin,
                                                                "venue": venue, "fills": 0})
        view.update(state=pb.OrderState.Name(ev.state), filled=ev.filled_qty, symbol=ev.symbol)
        if ev.HasField("fill"):
            view["fills"] += 1

    def resume_remote(self, origin: str, cursors: dict[str, int]) -> None:
        """A peer reconnected: replay its children's events from where its ledger stops."""
        for venue, after in cursors.items():
            link = self.edges.get(venue)
            if link is not None:
                task = asyncio.get_running_loop().create_task(self._replay(origin, link, after))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _replay(self, origin: str, link: EdgeLink, after: int) -> None:
        try:
            end = (await link.client.info(timeout=10)).last_event_seq
            if end <= after:
                return
            async for ev in link.client.order_events(after):
                remote = self.remote_children.get(ev.client_order_id)
                if remote is not None and remote[0] == origin and self.mesh is not None:
                    self.mesh.relay(origin, link.venue, ev)
                if ev.seq >= end:
                    return
        except grpc.aio.AioRpcError as exc:
            log.warning("replay for %s from %s failed: %s", origin, link.venue, exc.code().name)

    def remote_cursors(self) -> dict[str, int]:
        """For each venue of another region we routed to: the last of its events we booked."""
        venues = {v for v in self.ledger.child_venues() if v not in self.edges}
        return {v: self.ledger.cursor(v) for v in venues}

    # -- parents in memory and in the ledger ----------------------------------------------------

    def parent(self, order_id: str) -> Parent | None:
        """The parent order with this id: live or recent from memory, older from the ledger."""
        p = self.live.get(order_id) or self.recent.get(order_id)
        if p is None:
            p = self.ledger.parent(order_id)  # final: every live parent is in memory
            if p is not None:
                self._keep_final(p)
        return p

    def _child(self, child_id: str) -> tuple[Parent, Child] | None:
        child = self.children.get(child_id)
        if child is None:  # a late event of an older order's child, or not ours (an algo's order)
            parent_id = self.ledger.parent_id_of_child(child_id)
            if parent_id is None or self.parent(parent_id) is None:
                return None
            child = self.children[child_id]
        parent = self.parent(child.parent_id)
        assert parent is not None  # a child in memory has its parent in memory
        return parent, child

    def client_orders(self, client: str, symbol: str | None = None, state: str | None = None,
                      limit: int = 500) -> list[Parent]:
        """The client's latest `limit` orders, oldest first (read-only: older ones stay in the ledger)."""
        ids = self.ledger.client_order_ids(client, symbol, state, limit)
        older = self.ledger.parents([i for i in ids if i not in self.live and i not in self.recent])
        return [self.live.get(i) or self.recent.get(i) or older[i] for i in ids]

    def _keep_final(self, p: Parent) -> None:
        self._index(p)
        self.recent.keep(p.order_id, p)

    def _index(self, p: Parent) -> None:
        if p.client_order_id:
            self.by_client_id[(p.client, p.client_order_id)] = p
        for c in p.children:
            self.children[c.child_id] = c

    def _unindex(self, p: Parent) -> None:
        if self.by_client_id.get((p.client, p.client_order_id)) is p:
            del self.by_client_id[(p.client, p.client_order_id)]
        for c in p.children:
            if self.children.get(c.child_id) is c:
                del self.children[c.child_id]


__all__ = ["CHILD_TERMINAL", "ExecutionEngine", "OrderError"]
