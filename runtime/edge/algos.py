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
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import AbiViolation, Instance

from .journal import OrderRecord
from .order_state import TERMINAL

log = logging.getLogger(__name__)
_TYPES = {abi.TYPE_LIMIT: pb.LIMIT, abi.TYPE_MARKET: pb.MARKET, abi.TYPE_IOC: pb.LIMIT}
DEFAULT_MAX_OPEN = 32
DEFAULT_MAX_RATE = 50
OUTBOX_SIZE = 10_000


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
        if name in self.algos:
            self.remove(name)  # the new binary replaces the old instance and its open orders
        else:
            self._cancel_orphans(name)  # open orders of an instance from before a restart
        algo = Deployed(serial, name, req.symbol, hashlib.sha256(req.wasm).hexdigest(), req.owner, instance, limits,
                        running=req.running)
        self.algos[name] = algo
        self._run(algo, instance.start(dict(req.params)))
        return algo.status(sb)

    def control(self, name: str, running: bool) -> pb.AlgoStatus:
        algo = self.algos[name]
        algo.running = running
        return algo.status(self.feed.books[algo.symbol])

    def remove(self, name: str) -> None:
        algo = self.algos.pop(name)
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
        book = abi.encode_book(0, sb.recv_ts, sb.book.levels(True, abi.MAX_LEVELS),
                               sb.book.levels(False, abi.MAX_LEVELS))
        for algo in running:
            self._run(algo, algo.instance.on_book(book))

    def on_nbbo(self, nbbo: pb.Nbbo) -> None:
        sb = self.feed.books.get(nbbo.symbol)
        if sb is None:
            return
        payload = b""
        for algo in self.algos.values():
            if algo.running and algo.symbol == nbbo.symbol and not algo.instance.stopped:
                if not payload:
                    payload = abi.encode_nbbo(nbbo.ts_ns, _steps(sb, nbbo.bid, nbbo.bid_qty, ROUND_FLOOR),
                                              _steps(sb, nbbo.ask, nbbo.ask_qty, ROUND_CEILING),
                                              nbbo.bid_venue, nbbo.ask_venue, self.venue)
                self._run(algo, algo.instance.on_event("on_nbbo", payload))

    def on_message(self, msg: pb.AlgoMessage) -> None:
        algo = self.algos.get(msg.algo)
        if algo is None or not algo.running or algo.instance.stopped or msg.sender == self.sender:
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
            algo.position += sign * lots
            algo.instance.stats.fills += 1
            side, liquidity = ("buy" if sign > 0 else "sell"), ("maker" if fill.maker else "taker")
            algo.instance.stats.log(f"fill: tag {tag} {side} {fill.qty} @ {fill.price} ({liquidity}), "
                                    f"position {sb.qtys.to_str(algo.position)}")
            if algo.running and not algo.instance.stopped:
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
                self._deny(algo, "BAD_ACTION", f"unknown action kind {action.kind}")

    def _place(self, algo: Deployed, sb: Any, a: abi.Action) -> None:
        if a.side not in (abi.SIDE_BUY, abi.SIDE_SELL) or a.order_type not in _TYPES or a.qty_lots <= 0 or (
                a.order_type != abi.TYPE_MARKET and a.price_ticks <= 0):
            self._deny(algo, "BAD_ACTION", f"malformed place action {a}")
            return
        sign = 1 if a.side == abi.SIDE_BUY else -1
        lim = algo.limits
        if len(algo.working) >= lim.max_open:
            self._deny(algo, "MAX_OPEN_ORDERS", f"{len(algo.working)} open orders, the limit is {lim.max_open}")
            return
        now = time.monotonic()
        while algo.recent and now - algo.recent[0] > 1.0:
            algo.recent.popleft()
        if len(algo.recent) >= lim.max_rate:
            self._deny(algo, "ORDER_RATE", f"more than {lim.max_rate} orders per second")
            return
        price_ticks = a.price_ticks
        if a.order_type == abi.TYPE_MARKET:
            best = sb.book.levels(sign < 0, 1)
            price_ticks = best[0][0] if best else 0
        if lim.max_order_notional is not None:
            notional = sb.qtys.to_decimal(a.qty_lots) * sb.prices.to_decimal(price_ticks)
            if notional > lim.max_order_notional or price_ticks <= 0:
                self._deny(algo, "MAX_ORDER_NOTIONAL",
                           f"order notional {notional} exceeds the limit {lim.max_order_notional}")
                return
        if lim.max_position_lots is not None:
            worst = algo.exposure(sign) + sign * a.qty_lots
            if abs(worst) > lim.max_position_lots:
                self._deny(algo, "POSITION_LIMIT", f"position would reach {sb.qtys.to_str(worst)}, beyond "
                           f"+/-{sb.qtys.to_str(lim.max_position_lots)}")
                return
        algo.recent.append(now)
        self._ids += 1
        cid = f"{algo.name}.{_b36(self._ids)}"
        order = pb.SubmitOrder(
            client_order_id=cid, symbol=algo.symbol, side=pb.BUY if sign > 0 else pb.SELL,
            type=_TYPES[a.order_type], quantity=sb.qtys.to_str(a.qty_lots),
            price="" if a.order_type == abi.TYPE_MARKET else sb.prices.to_str(a.price_ticks),
            time_in_force=pb.IOC if a.order_type == abi.TYPE_IOC else pb.GTC)
        algo.working[cid] = Working(a.tag, sign, a.qty_lots)
        algo.instance.stats.orders += 1
        self._spawn(algo, self.oms.submit(order))

    def _deny(self, algo: Deployed, code: str, message: str) -> None:
        algo.instance.stats.denied += 1
        algo.instance.stats.log(f"denied {code}: {message}")

    @staticmethod
    def _spawn(algo: Deployed, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        algo.tasks.add(task)
        task.add_done_callback(algo.tasks.discard)


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
