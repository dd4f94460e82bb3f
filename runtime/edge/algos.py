"""Algos on this edge: WebAssembly instances called on every book update of their symbol.

Feeds stay warm whether an algo runs or not, so starting one delivers the next book update at
once. Every action goes through the limits the CC handed over with the deployment (the
deploying client's own risk limits) and then through the edge's order management (rate
limit, state table, journal), exactly like orders from the CC. Fills of an algo's orders,
messages from its siblings, the region's NBBO and its timers come back to it as events. A
misbehaving instance is stopped with its reason and nothing else is disturbed.

What the manager remembers of an algo's orders does not grow with its history: an open order
is in its instance's `working` table, a final one (whose fills the venue may still report late,
after a cancel or an expiry) in a window as long as the order manager's own window of final
orders. An order that has left that window has left the order manager's too, which then books
no trade for it any more. The algo of an order is its client order id's `<algo>.` prefix, and
the instance by its deployment serial, so an order of a removed or replaced instance never
reaches its successor, and nothing here keeps a removed instance (or its wasmtime store) alive.

A module built with the public `sequence-algo-sdk` runs here too (`instance.abi_kind == "public"`,
`Deployed.guest`): the same events reach it in that SDK's layouts, with its AlgoState (position,
open orders, PnL) rebuilt for every call, a heartbeat every second and `on_shutdown` when stopped;
its orders pass the same limits, and an action that does not (or that this edge cannot carry out)
comes back to it as `on_reject`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any, NamedTuple

from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.store.recent import RecentFinal
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm import public_abi as P
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import AbiViolation, Instance
from seqmesh.runtime.wasm.public_guest import PublicGuest
from seqmesh.runtime.wasm.validate import check_public_data

from seqmesh.common.wasmfile import InvalidWasm

from .dex.algo_pools import pool_tables
from .journal import OrderRecord
from .order_state import TERMINAL

log = logging.getLogger(__name__)
_TYPES = {abi.TYPE_LIMIT: pb.LIMIT, abi.TYPE_MARKET: pb.MARKET, abi.TYPE_IOC: pb.LIMIT, abi.TYPE_FOK: pb.LIMIT,
          abi.TYPE_POST_ONLY: pb.LIMIT}
_TIFS = {abi.TYPE_IOC: pb.IOC, abi.TYPE_FOK: pb.FOK, abi.TYPE_POST_ONLY: pb.POST_ONLY}  # others GTC
DEFAULT_MAX_OPEN = 32
DEFAULT_MAX_RATE = 50
OUTBOX_SIZE = 10_000
HEARTBEAT_S = 1.0  # the public SDK's on_heartbeat period
HEARTBEAT_TIMER = -1  # its timer's id among an algo's timers (guest timer ids are not negative)
#: A limit's name -> the public SDK's reject code for an action it refused.
_REJECT_CODES = {"MAX_OPEN_ORDERS": P.REJECT_RISK, "ORDER_RATE": P.REJECT_RATE, "MAX_ORDER_NOTIONAL": P.REJECT_RISK,
                 "POSITION_LIMIT": P.REJECT_POSITION, "BAD_ACTION": P.REJECT_INVALID}


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


@dataclass
class Limits:
    max_order_notional: Decimal | None
    max_position_lots: int | None
    max_open: int
    max_rate: int

    @classmethod
    def from_pb(cls, lim: pb.AlgoLimits, sb: Any) -> Limits:
        pos = Decimal(lim.max_position) if lim.max_position else None
        return cls(Decimal(lim.max_order_notional) if lim.max_order_notional else None,
                   int(pos / sb.qtys.step) if pos is not None else None,
                   lim.max_open_orders or DEFAULT_MAX_OPEN, lim.max_orders_per_s or DEFAULT_MAX_RATE)


@dataclass
class Working:
    tag: int
    sign: int  # +1 buy, -1 sell
    remaining: int  # lots
    price_ticks: int = 0  # 0 for a market order
    qty_lots: int = 0


class Finished(NamedTuple):
    """A final order of an algo: which deployment placed it, and its tag (for a late fill)."""

    serial: int
    tag: int


@dataclass
class Deployed:
    serial: int  # unique per deployment on this edge: a redeployed name is another instance
    name: str
    symbol: str
    sha256: str
    owner: str
    instance: Instance
    limits: Limits
    running: bool = False
    position: int = 0  # lots, buys positive
    working: dict[str, Working] = field(default_factory=dict)  # client order id -> open order
    recent: deque[float] = field(default_factory=deque)  # monotonic times of recent places
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    latencies: deque[int] = field(default_factory=lambda: deque(maxlen=2000))  # ns, received messages
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    guest: PublicGuest | None = None  # a public-SDK module's side of the calls
    avg_entry_ticks: Decimal = Decimal(0)  # average cost of the open position
    realized: Decimal = Decimal(0)  # quote currency

    def status(self, sb: Any) -> pb.AlgoStatus:
        inst, s = self.instance, self.instance.stats
        state = "Failed" if inst.stopped else ("Running" if self.running else "Stopped")
        return pb.AlgoStatus(name=self.name, symbol=self.symbol, state=state, reason=inst.stopped or "",
                             calls=s.calls, fuel_used=s.fuel_used, traps=s.traps, messages=s.messages,
                             rejected_messages=s.rejected_messages, orders=s.orders, sha256=self.sha256,
                             received=s.received, denied=s.denied, fills=s.fills, owner=self.owner,
                             position=sb.qtys.to_str(self.position), open_orders=len(self.working),
                             message_latency_p50_us=_quantile_us(self.latencies, 0.5),
                             message_latency_p99_us=_quantile_us(self.latencies, 0.99), code_tier=inst.tier)

    def exposure(self, sign: int) -> int:
        return self.position + sum(w.remaining * w.sign for w in self.working.values() if w.sign == sign)

    def book_fill(self, sign: int, lots: int, price_ticks: int, sb: Any) -> None:
        """Position, average entry and realized PnL after a fill (average cost)."""
        before = self.position
        after = before + sign * lots
        if before == 0 or (before > 0) == (sign > 0):  # opening or adding
            self.avg_entry_ticks = (self.avg_entry_ticks * abs(before) + price_ticks * lots) / abs(after)
        else:  # reducing, perhaps through zero
            closed = min(lots, abs(before))
            pnl_ticks = (price_ticks - self.avg_entry_ticks) * closed * (1 if before > 0 else -1)
            self.realized += pnl_ticks * sb.prices.step * sb.qtys.step
            if abs(sign * lots) > abs(before):
                self.avg_entry_ticks = Decimal(price_ticks)
            elif after == 0:
                self.avg_entry_ticks = Decimal(0)
        self.position = after

    def view(self, sb: Any) -> P.StateView:
        """AlgoState for a public-SDK guest, in its units."""
        assert self.guest is not None
        scales = self.guest.identity.scales
        unrealized = Decimal(0)
        bids, asks = sb.book.levels(True, 1), sb.book.levels(False, 1)
        if self.position and bids and asks:
            mid = Decimal(bids[0][0] + asks[0][0]) / 2
            unrealized = (mid - self.avg_entry_ticks) * self.position * sb.prices.step * sb.qtys.step
        orders = [P.OpenOrder(w.tag, scales.px(w.price_ticks), scales.sz(w.qty_lots),
                              scales.sz(w.qty_lots - w.remaining), w.sign,
                              P.STATUS_PARTIAL if w.remaining < w.qty_lots else P.STATUS_ACKED)
                  for w in self.working.values()]
        return P.StateView(scales.sz(self.position), int(self.avg_entry_ticks * scales.tick_1e9),
                           int(self.realized * 1_000_000_000), int(unrealized * 1_000_000_000),
                           self.instance.stats.fills, orders)


class AlgoManager:
    def __init__(self, cache_dir: Path, oms: Any, feed: Any, region: str = "", venue: str = "") -> None:
        self.runtime = Runtime(cache_dir)
        self.oms = oms
        self.feed = feed
        self.sender = f"{region}/{venue}"
        self.venue = venue
        self.algos: dict[str, Deployed] = {}
        #: final orders of algos whose late fills may still come: as many as the order manager keeps
        #: final orders (ours are a subset of its, filed at the same time, so they leave it first)
        self.finished = RecentFinal[Finished](oms.recent.capacity, _nothing)
        self._ids = time.time_ns() // 1000  # order ids and deployment serials stay unique across restarts
        self.outbox: asyncio.Queue[pb.AlgoUp | None] | None = None  # the CC's algo link, when attached
        self.dropped_messages = 0
        self.nbbo_seq = 0  # the public SDK's NbboSnapshot.sequence
        self._last_top: dict[str, tuple[str, ...]] = {}  # symbol -> the NBBO last given to seqmesh-ABI algos
        self.dex: Any = None  # a DEX edge's gateway (its pool and gas watchers): public guests see its pools
        self.region = region
        oms.listeners.append(self._on_order_event)

    # -- deployment ------------------------------------------------------------------------

    async def deploy(self, req: pb.AlgoDeploy) -> pb.AlgoStatus:
        if req.symbol not in self.feed.books:
            raise ValueError(f"this edge does not carry {req.symbol!r}")
        if not req.name or len(req.name) > 24 or not req.name.replace("-", "").isalnum():
            raise ValueError("algo name must be 1-24 characters of letters, digits and '-'")
        sb = self.feed.books[req.symbol]
        limits = Limits.from_pb(req.limits, sb)
        # Compiling a large module takes a while (wasmtime drops the GIL): off the loop, so feeds,
        # orders and the other instances go on meanwhile.
        module = await asyncio.to_thread(self.runtime.compile, req.wasm)
        name = req.name
        self._ids += 1
        serial = self._ids
        spec = self.oms.instruments[req.symbol]
        # The callbacks name the deployment, not its record: the instance must not keep itself alive.
        instance = Instance(module, name,
                            send=lambda label, payload: self._send(name, label, payload),
                            set_timer=lambda tid, ms: self._set_timer(name, serial, tid, ms),
                            instrument=abi.encode_instrument(spec.tick, spec.lot, spec.min_qty, spec.min_notional))
        params = dict(req.params)
        peers = tuple(p for p in params.pop(P.PEERS_PARAM, "").split(",") if p)
        guest = None
        if instance.abi_kind == "public":
            try:
                check_public_data(req.wasm)
            except InvalidWasm as exc:
                raise ValueError(str(exc)) from None
            scales = P.Scales.of(spec.tick, spec.lot, spec.min_qty, spec.min_notional)
            ident = P.Identity(scales, scales.sz(limits.max_position_lots or 0),
                               int((limits.max_order_notional or 0) * 1_000_000_000), limits.max_rate,
                               self.sender, peers, req.symbol)
            guest = PublicGuest(instance, ident, params, time.time_ns())
        if name in self.algos:
            self.remove(name)  # the new binary replaces the old instance and its open orders
        else:
            self._cancel_orphans(name)  # open orders of an instance from before a restart
        algo = Deployed(serial, name, req.symbol, hashlib.sha256(req.wasm).hexdigest(), req.owner, instance, limits,
                        running=req.running, guest=guest)
        self.algos[name] = algo
        if guest is None:
            self._run(algo, instance.start(params))
        elif algo.running:
            self._heartbeat(algo)
        return algo.status(sb)

    def control(self, name: str, running: bool) -> pb.AlgoStatus:
        algo = self.algos[name]
        if algo.guest is not None and running != algo.running:
            if running:
                algo.running = True
                self._heartbeat(algo)
            else:
                self._shutdown(algo)
        algo.running = running
        return algo.status(self.feed.books[algo.symbol])

    def _shutdown(self, algo: Deployed) -> None:
        """A public-SDK guest's on_shutdown, its actions carried out (its cancels) while it still runs."""
        heartbeat = algo.timers.pop(HEARTBEAT_TIMER, None)
        if heartbeat is not None:
            heartbeat.cancel()
        if algo.guest is not None and algo.running and not algo.instance.stopped:
            sb = self.feed.books[algo.symbol]
            self._run_public(algo, algo.guest.on_shutdown(algo.view(sb)))

    def _heartbeat(self, algo: Deployed) -> None:
        def beat() -> None:
            algo.timers.pop(HEARTBEAT_TIMER, None)
            if not algo.running or algo.instance.stopped or self.algos.get(algo.name) is not algo:
                return
            assert algo.guest is not None
            sb = self.feed.books[algo.symbol]
            if self.dex is not None:  # an idle chain brings no book update: the pool as of now
                scales = algo.guest.identity.scales
                pools = pool_tables(self.dex, self.venue, algo.symbol,
                                    [(scales.px(p), scales.sz(q)) for p, q in sb.book.levels(True, P.MAX_LEVELS)],
                                    [(scales.px(p), scales.sz(q)) for p, q in sb.book.levels(False, P.MAX_LEVELS)],
                                    sb.recv_ts)
                if pools is not None:
                    algo.guest.set_pools(*pools)
            self._run_public(algo, algo.guest.on_heartbeat(algo.view(sb)))
            self._heartbeat(algo)

        algo.timers[HEARTBEAT_TIMER] = asyncio.get_running_loop().call_later(HEARTBEAT_S, beat)

    def remove(self, name: str) -> None:
        algo = self.algos[name]
        self._shutdown(algo)
        del self.algos[name]
        algo.running = False
        for handle in algo.timers.values():
            handle.cancel()
        for cid in list(algo.working):
            self._spawn(algo, self.oms.cancel(cid))

    def _cancel_orphans(self, name: str) -> None:
        prefix = f"{name}."
        for cid in list(self.oms.live):
            if cid.startswith(prefix):
                asyncio.get_running_loop().create_task(self.oms.cancel(cid))

    def statuses(self, name: str = "") -> list[pb.AlgoStatus]:
        return [a.status(self.feed.books[a.symbol]) for n, a in sorted(self.algos.items()) if not name or n == name]

    # -- events into the guest ----------------------------------------------------------------

    def on_book(self, symbol: str) -> None:
        """Called by the feed after each applied update of `symbol` (the hot path)."""
        running = [a for a in self.algos.values() if a.running and a.symbol == symbol and not a.instance.stopped]
        if not running:
            return
        sb = self.feed.books[symbol]
        bids, asks = sb.book.levels(True, abi.MAX_LEVELS), sb.book.levels(False, abi.MAX_LEVELS)
        book = b""
        public: tuple[bytes, bytes] | None = None
        pools: tuple[bytes, bytes, bytes] | None = None
        for algo in running:
            if algo.guest is None:
                book = book or abi.encode_book(0, sb.recv_ts, bids, asks)
                self._run(algo, algo.instance.on_book(book))
                continue
            if public is None:  # every public guest of the symbol shares the instrument's units
                scales = algo.guest.identity.scales
                ubids = [(scales.px(p), scales.sz(q)) for p, q in bids]
                uasks = [(scales.px(p), scales.sz(q)) for p, q in asks]
                features = P.encode_features(ubids[:5], uasks[:5], time.time_ns())
                public = P.encode_book(ubids, uasks, sb.recv_ts), features
                pools = pool_tables(self.dex, self.venue, symbol, ubids, uasks, sb.recv_ts) if self.dex else None
            if pools is not None:
                algo.guest.set_pools(*pools)
            self._run_public(algo, algo.guest.on_book(public[0], public[1], algo.view(sb)))

    def on_nbbo(self, nbbo: pb.Nbbo) -> None:
        sb = self.feed.books.get(nbbo.symbol)
        if sb is None:
            return
        payload = b""
        public: tuple[bytes, bytes] | None = None
        # The CC also sends an NBBO when only a venue's own top moved (news to public-SDK algos'
        # venue books): seqmesh's ABI promises on_nbbo when the NBBO itself changes.
        top = (nbbo.bid, nbbo.bid_qty, nbbo.bid_venue, nbbo.ask, nbbo.ask_qty, nbbo.ask_venue)
        native = top != self._last_top.get(nbbo.symbol)
        self._last_top[nbbo.symbol] = top
        for algo in self.algos.values():
            if algo.running and algo.symbol == nbbo.symbol and not algo.instance.stopped and algo.guest is not None:
                if public is None:
                    public = self._public_nbbo(nbbo, sb)
                self._run_public(algo, algo.guest.on_nbbo(public[0], public[1], algo.view(sb)))
            elif native and algo.running and algo.symbol == nbbo.symbol and not algo.instance.stopped:
                if not payload:
                    payload = abi.encode_nbbo(nbbo.ts_ns, _steps(sb, nbbo.bid, nbbo.bid_qty, ROUND_FLOOR),
                                              _steps(sb, nbbo.ask, nbbo.ask_qty, ROUND_CEILING),
                                              nbbo.bid_venue, nbbo.ask_venue, self.venue)
                self._run(algo, algo.instance.on_event("on_nbbo", payload))

    def _public_nbbo(self, nbbo: pb.Nbbo, sb: Any) -> tuple[bytes, bytes]:
        """NbboSnapshot and VenueBooks: each venue's depth as the CC sent it; this venue's from our book."""
        now = time.time_ns()
        quotes = [P.VenueQuote(v.venue, v.region, [_units(lvl) for lvl in v.bids], [_units(lvl) for lvl in v.asks],
                               v.age_ms) for v in nbbo.venues if v.venue != self.venue or v.region != self.region]
        own = self.algos_scales(nbbo.symbol)
        if own is not None:
            bids, asks = sb.book.levels(True, P.MAX_LEVELS), sb.book.levels(False, P.MAX_LEVELS)
            quotes.append(P.VenueQuote(self.venue, self.region, [(own.px(p), own.sz(q)) for p, q in bids],
                                       [(own.px(p), own.sz(q)) for p, q in asks],
                                       max(0, (now - sb.recv_ts) // 1_000_000) if sb.recv_ts else 65535))
        self.nbbo_seq += 1
        return P.encode_nbbo(quotes, self.nbbo_seq, nbbo.ts_ns or now)

    def algos_scales(self, symbol: str) -> P.Scales | None:
        for algo in self.algos.values():
            if algo.symbol == symbol and algo.guest is not None:
                return algo.guest.identity.scales
        return None

    def on_message(self, msg: pb.AlgoMessage) -> None:
        algo = self.algos.get(msg.algo)
        if algo is None or not algo.running or algo.instance.stopped or msg.sender == self.sender:
            return
        if algo.guest is not None:
            if msg.label != self.sender:  # the public SDK's messages go to one peer, named in the label
                return
            algo.instance.stats.received += 1
            algo.latencies.append(time.time_ns() - msg.ts_ns)
            view = algo.view(self.feed.books[algo.symbol])
            self._run_public(algo, algo.guest.on_message(msg.sender, msg.payload, view))
            return
        algo.instance.stats.received += 1
        algo.latencies.append(time.time_ns() - msg.ts_ns)
        self._run(algo, algo.instance.on_event("on_message", abi.encode_message(msg.sender, msg.label,
                                                                                msg.payload[:abi.MAX_MESSAGE])))

    def _placed_by(self, cid: str) -> tuple[Deployed, Working | None, int] | None:
        """The running deployment that placed order `cid`, its working entry (while open) and tag."""
        name, dot, _ = cid.partition(".")
        algo = self.algos.get(name) if dot else None
        if algo is None:
            return None  # not an algo's order, or its algo was removed (the CC still gets the fill)
        work = algo.working.get(cid)
        if work is not None:
            return algo, work, work.tag
        done = self.finished.get(cid)
        if done is None or done.serial != algo.serial:
            return None  # an order of an earlier instance of that name
        return algo, None, done.tag

    def _on_order_event(self, order: OrderRecord, fill: pb.Fill | None) -> None:
        cid = order.client_order_id
        placed = self._placed_by(cid)
        if placed is None:
            return
        algo, work, tag = placed
        sb = self.feed.books[algo.symbol]
        if fill is not None:
            sign = 1 if order.side == pb.BUY else -1
            lots = sb.qtys.from_decimal(Decimal(fill.qty))
            if work is not None:
                work.remaining -= lots
            price_ticks = sb.prices.from_decimal(Decimal(fill.price))
            algo.book_fill(sign, lots, price_ticks, sb)
            algo.instance.stats.fills += 1
            side, liquidity = ("buy" if sign > 0 else "sell"), ("maker" if fill.maker else "taker")
            algo.instance.stats.log(f"fill: tag {tag} {side} {fill.qty} @ {fill.price} ({liquidity}), "
                                    f"position {sb.qtys.to_str(algo.position)}")
            if algo.running and not algo.instance.stopped and algo.guest is not None:
                scales = algo.guest.identity.scales
                algo.guest.on_fill(P.encode_fill(tag, scales.px(price_ticks), scales.sz(lots),
                                                 fill.exchange_ts or time.time_ns(), sign), algo.view(sb))
            elif algo.running and not algo.instance.stopped:
                event = abi.encode_fill(tag, abi.SIDE_BUY if sign > 0 else abi.SIDE_SELL,
                                        abi.LIQUIDITY_MAKER if fill.maker else abi.LIQUIDITY_TAKER,
                                        sb.prices.from_decimal(Decimal(fill.price)), lots,
                                        int(Decimal(fill.fee or "0") * 100_000_000),
                                        fill.exchange_ts or time.time_ns(), algo.position)
                self._run(algo, algo.instance.on_event("on_fill", event))
        if order.state in TERMINAL:
            algo.working.pop(cid, None)
            self.finished.keep(cid, Finished(algo.serial, tag))
            if order.state == pb.REJECTED:  # the venue or the edge refused it: the algo's author wants to know
                algo.instance.stats.log(f"warn: order tag {tag} ({order.client_order_id}) rejected: {order.reason}")
                if algo.guest is not None and algo.running and not algo.instance.stopped:
                    algo.guest.on_reject(tag, _venue_reject_code(order.reason))

    def _set_timer(self, name: str, serial: int, timer_id: int, after_ms: int) -> None:
        algo = self.algos.get(name)
        if algo is None or algo.serial != serial:  # removed or replaced (its record is in place before on_start)
            return
        old = algo.timers.pop(timer_id, None)
        if old is not None:
            old.cancel()
        algo.timers[timer_id] = asyncio.get_running_loop().call_later(after_ms / 1000, self._fire, algo, timer_id)

    def _fire(self, algo: Deployed, timer_id: int) -> None:
        algo.timers.pop(timer_id, None)
        if algo.running and self.algos.get(algo.name) is algo:
            self._run(algo, algo.instance.on_timer(timer_id))
        else:
            algo.instance.timers.discard(timer_id)

    # -- messages out -----------------------------------------------------------------------

    def _send(self, name: str, label: str, payload: bytes) -> int:
        box = self.outbox
        if box is None:
            return abi.E_NO_ROUTE
        if box.qsize() >= OUTBOX_SIZE:
            self.dropped_messages += 1
            return abi.E_LIMIT
        box.put_nowait(pb.AlgoUp(message=pb.AlgoMessage(algo=name, sender=self.sender, label=label,
                                                        payload=payload, ts_ns=time.time_ns())))
        return abi.OK

    def attach(self) -> asyncio.Queue[pb.AlgoUp | None]:
        """The CC's algo link: one at a time; a new one replaces (and ends) the old."""
        if self.outbox is not None:
            self.outbox.put_nowait(None)
        self.outbox = asyncio.Queue()
        return self.outbox

    def detach(self, box: asyncio.Queue[pb.AlgoUp | None]) -> None:
        if self.outbox is box:
            self.outbox = None

    # -- actions out -------------------------------------------------------------------------

    def _run_public(self, algo: Deployed, actions: list[P.PublicAction]) -> None:
        """A public guest's actions, in the edge's units; one the edge cannot carry out is rejected back."""
        if not actions or not algo.running:
            return
        assert algo.guest is not None
        scales = algo.guest.identity.scales
        native: list[abi.Action] = []
        for action in actions:
            converted = P.to_native(action, scales)
            if isinstance(converted, str):
                self._deny(algo, "BAD_ACTION", converted, action.order_id)
            elif action.pool_idx > 1 or action.venue_id not in (0, P.venue_id(self.venue)):
                self._deny(algo, "BAD_ACTION", f"order {action.order_id} targets venue {action.venue_id} pool "
                           f"{action.pool_idx}: this edge trades only its own venue's book (pool 1)",
                           action.order_id)
            else:
                native.append(converted)
        self._run(algo, native)

    def _run(self, algo: Deployed, actions: list[abi.Action]) -> None:
        if not actions or not algo.running:
            return
        sb = self.feed.books[algo.symbol]
        for action in actions:
            if action.kind == abi.KIND_PLACE:
                self._place(algo, sb, action)
            elif action.kind == abi.KIND_CANCEL:
                for cid, work in list(algo.working.items()):
                    if work.tag == action.tag:
                        self._spawn(algo, self.oms.cancel(cid))
            elif action.kind == abi.KIND_CANCEL_ALL:
                for cid in list(algo.working):
                    self._spawn(algo, self.oms.cancel(cid))
            else:
                self._deny(algo, "BAD_ACTION", f"unknown action kind {action.kind}", action.tag)

    def _place(self, algo: Deployed, sb: Any, a: abi.Action) -> None:
        if a.side not in (abi.SIDE_BUY, abi.SIDE_SELL) or a.order_type not in _TYPES or a.qty_lots <= 0 or (
                a.order_type != abi.TYPE_MARKET and a.price_ticks <= 0):
            self._deny(algo, "BAD_ACTION", f"malformed place action {a}", a.tag)
            return
        sign = 1 if a.side == abi.SIDE_BUY else -1
        lim = algo.limits
        if len(algo.working) >= lim.max_open:
            self._deny(algo, "MAX_OPEN_ORDERS", f"{len(algo.working)} open orders, the limit is {lim.max_open}",
                       a.tag)
            return
        now = time.monotonic()
        while algo.recent and now - algo.recent[0] > 1.0:
            algo.recent.popleft()
        if len(algo.recent) >= lim.max_rate:
            self._deny(algo, "ORDER_RATE", f"more than {lim.max_rate} orders per second", a.tag)
            return
        price_ticks = a.price_ticks
        if a.order_type == abi.TYPE_MARKET:
            best = sb.book.levels(sign < 0, 1)
            price_ticks = best[0][0] if best else 0
        if lim.max_order_notional is not None:
            notional = sb.qtys.to_decimal(a.qty_lots) * sb.prices.to_decimal(price_ticks)
            if notional > lim.max_order_notional or price_ticks <= 0:
                self._deny(algo, "MAX_ORDER_NOTIONAL",
                           f"order notional {notional} exceeds the limit {lim.max_order_notional}", a.tag)
                return
        if lim.max_position_lots is not None:
            worst = algo.exposure(sign) + sign * a.qty_lots
            if abs(worst) > lim.max_position_lots:
                self._deny(algo, "POSITION_LIMIT", f"position would reach {sb.qtys.to_str(worst)}, beyond "
                           f"+/-{sb.qtys.to_str(lim.max_position_lots)}", a.tag)
                return
        algo.recent.append(now)
        self._ids += 1
        cid = f"{algo.name}.{_b36(self._ids)}"
        order = pb.SubmitOrder(
            client_order_id=cid, symbol=algo.symbol, side=pb.BUY if sign > 0 else pb.SELL,
            type=_TYPES[a.order_type], quantity=sb.qtys.to_str(a.qty_lots),
            price="" if a.order_type == abi.TYPE_MARKET else sb.prices.to_str(a.price_ticks),
            time_in_force=_TIFS.get(a.order_type, pb.GTC))
        algo.working[cid] = Working(a.tag, sign, a.qty_lots, price_ticks if a.order_type != abi.TYPE_MARKET else 0,
                                    a.qty_lots)
        algo.instance.stats.orders += 1
        self._spawn(algo, self.oms.submit(order))

    def _deny(self, algo: Deployed, code: str, message: str, tag: int = 0) -> None:
        algo.instance.stats.denied += 1
        algo.instance.stats.log(f"denied {code}: {message}")
        if algo.guest is not None and not algo.instance.stopped:
            algo.guest.on_reject(tag, _REJECT_CODES.get(code, P.REJECT_UNKNOWN))

    @staticmethod
    def _spawn(algo: Deployed, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        algo.tasks.add(task)
        task.add_done_callback(algo.tasks.discard)


def _units(level: pb.Level) -> tuple[int, int]:
    """A level from the CC (decimal strings) in the public SDK's units."""
    return int(Decimal(level.price) * 1_000_000_000), int(Decimal(level.qty) * 100_000_000)


def _venue_reject_code(reason: str) -> int:
    text = reason.lower()
    if "insufficient" in text or "balance" in text:
        return P.REJECT_BALANCE
    if "rate" in text or "too many" in text:
        return P.REJECT_RATE
    if "invalid" in text or "precision" in text or "min" in text:
        return P.REJECT_INVALID
    return P.REJECT_UNKNOWN


def _nothing(_: Finished) -> None:
    """A finished order leaving the window: nothing else indexes it."""


def _quantile_us(samples: deque[int], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000, 1)


def _steps(sb: Any, price: str, qty: str, rounding: str) -> tuple[int, int]:
    if not price:
        return 0, 0
    ticks = int((Decimal(price) / sb.prices.step).to_integral_value(rounding))
    lots = int((Decimal(qty or "0") / sb.qtys.step).to_integral_value(ROUND_FLOOR))
    return ticks, lots


__all__ = ["AbiViolation", "AlgoManager"]
