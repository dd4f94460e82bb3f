"""A backtest's clock and events: the recording's items in their order, the algo in the edge's
own WASM host called on each book update, its actions reaching the market a latency later, and
its fills reported back a latency after they happen.

Time is the recording's: an item happens at its edge receive time. Everything else (an order's
arrival, a fill report, a timer) is queued at the time it is due and runs before the first
recorded item that is later, ties in the order they were queued. A seed draws the latency's
jitter; nothing else is random, so the same recording, module, parameters and seed give the
same fills. `now_ns` inside the guest answers the replayed time, so an algo that decides on the
clock replays the same way too.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from seqmesh.runtime.book.numbers import DecimalScale
from seqmesh.runtime.edge.recording import Header, Recording, RecordingError
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.sim.matching import Fees
from seqmesh.runtime.venues.sim.orders import Order, OrderType, Rejected, Side, TimeInForce
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm import public_abi as P
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import AbiViolation, Instance, Stats
from seqmesh.runtime.wasm.public_guest import PublicGuest

from .inventory import AverageCost
from .market import AlgoFill, ReplayMarket

_REPLAYED = ("snapshot", "delta", "trade")
MAX_OPEN = 32  # the edge's default limit of open orders per instance
MAX_RATE = 50  # and of orders per second, which the public SDK's AlgoState states
HEARTBEAT_NS = 1_000_000_000  # the public SDK's on_heartbeat period, as on an edge
_TYPE_NAMES = {abi.TYPE_LIMIT: "limit", abi.TYPE_MARKET: "market", abi.TYPE_IOC: "ioc"}
_TYPES = {abi.TYPE_LIMIT: (OrderType.LIMIT, TimeInForce.GTC), abi.TYPE_MARKET: (OrderType.MARKET, TimeInForce.GTC),
          abi.TYPE_IOC: (OrderType.LIMIT, TimeInForce.IOC)}


@dataclass(frozen=True)
class Settings:
    symbol: str = ""  # "": the recording's first
    params: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    latency_ns: int = 0  # one way: decision -> venue, and fill -> algo
    jitter_ns: int = 0  # each trip takes latency + uniform [0, jitter]
    fees: Fees | None = None  # None: the recorded venue's
    fuel: int = 5_000_000


@dataclass
class AlgoOrder:
    """One place action and what became of it."""

    tag: int
    side: Side
    kind: int  # abi.TYPE_*
    price: Decimal | None
    qty: Decimal
    decided_ns: int
    decided_mid: Decimal | None
    arrived_ns: int = 0
    order: Order | None = None
    reject: str = ""
    fills: list[AlgoFill] = field(default_factory=list)

    @property
    def type(self) -> str:
        return _TYPE_NAMES[self.kind]

    @property
    def is_open(self) -> bool:
        return not self.reject and (self.order is None or self.order.status.is_open)

    @property
    def state(self) -> str:
        if self.reject:
            return "rejected"
        if self.order is None:
            return "in-flight"
        return self.order.status.value.lower()


@dataclass
class Result:
    settings: Settings
    header: Header
    symbol: str
    items: int = 0
    book_updates: int = 0
    trades: int = 0
    start_ns: int = 0
    end_ns: int = 0
    orders: list[AlgoOrder] = field(default_factory=list)
    fills: list[tuple[AlgoFill, AlgoOrder, Decimal | None]] = field(default_factory=list)  # with the mid then
    cancels: int = 0
    denied: int = 0
    last_mid: Decimal | None = None
    stats: Stats = field(default_factory=Stats)  # the instance's host counters
    stopped: str | None = None  # why the instance stopped, if it did
    logs: list[str] = field(default_factory=list)
    truncated: str = ""  # where a partial recording stopped


class Backtest:
    def __init__(self, wasm: bytes, recording: Recording, settings: Settings) -> None:
        header = recording.header
        symbol = settings.symbol or (header.symbols[0] if header.symbols else "")
        spec = header.instrument(symbol)
        self.recording = recording
        self.settings = settings
        self.symbol = symbol
        self.prices, self.qtys = DecimalScale(spec.tick), DecimalScale(spec.lot)
        fees = settings.fees or Fees(Decimal(header.info.maker_fee or "0"), Decimal(header.info.taker_fee or "0"))
        self.now = header.start_ns
        self.market = ReplayMarket(spec, fees, lambda: self.now)
        self.rng = random.Random(settings.seed)
        self.due: list[tuple[int, int, Callable[[], None]]] = []  # (time, seq, what)
        self._seq = itertools.count()
        self.timers: dict[int, int] = {}  # timer id -> the seq of its live arming
        self.result = Result(settings, header, symbol, start_ns=header.start_ns)
        self.reported_position = 0  # lots, as the algo has been told
        self.by_order_id: dict[int, AlgoOrder] = {}  # the engine's order id -> the algo's order
        self.live: list[AlgoOrder] = []  # open or in flight (pruned as they close)
        compiled = Runtime(None).compile(wasm)
        inst = (Decimal(spec.tick), Decimal(spec.lot), Decimal(spec.min_qty or "0"), Decimal(spec.min_notional or "0"))
        self.instance = Instance(compiled, "backtest", set_timer=self._set_timer, fuel=settings.fuel,
                                 instrument=abi.encode_instrument(*inst), clock_ns=lambda: self.now)
        self.venue = header.info.venue
        #: a public-SDK module: its side of the calls, and the position as it has been told (AlgoState)
        self.guest: PublicGuest | None = None
        self.scales = P.Scales.of(*inst)
        self.held = AverageCost()
        if self.instance.abi_kind == "public":
            ident = P.Identity(self.scales, 0, 0, MAX_RATE, f"backtest/{self.venue}", (), symbol)
            self.guest = PublicGuest(self.instance, ident, settings.params, header.start_ns)

    # -- the clock ---------------------------------------------------------------------------

    def _at(self, when: int, what: Callable[[], None]) -> int:
        seq = next(self._seq)
        heapq.heappush(self.due, (when, seq, what))
        return seq

    def _trip(self) -> int:
        jitter = self.settings.jitter_ns
        return self.settings.latency_ns + (self.rng.randint(0, jitter) if jitter else 0)

    def _run_due(self, until: int) -> None:
        while self.due and self.due[0][0] <= until:
            when, _, what = heapq.heappop(self.due)
            self.now = max(self.now, when)
            what()

    def run(self) -> Result:
        r = self.result
        if self.guest is None:
            self._actions(self.instance.start(self.settings.params))
        else:
            self._heartbeat()
        for item in self.recording.items():
            kind = item.WhichOneof("item")
            if kind not in _REPLAYED:  # a DEX edge's pool states and gas prices: not a book to fill on
                continue
            body = getattr(item, kind)
            if body.symbol != self.symbol:
                continue
            ts = body.ts.edge_recv_ts or body.ts.exchange_ts
            self._run_due(ts)
            self.now = max(self.now, ts)
            r.items += 1
            m = self.market
            if kind == "snapshot":
                m.load_snapshot(body.bids, body.asks)
            elif kind == "delta":
                if not m.synced:
                    continue
                m.apply_delta(body.bids, body.asks)
            elif kind == "trade":
                r.trades += 1
                m.apply_trade(Decimal(body.price), Decimal(body.qty), Side.BUY if body.aggressor == pb.BUY
                              else Side.SELL)
            self._report_fills()
            if kind != "trade" and m.synced:
                r.book_updates += 1
                self._on_book()
        r.end_ns = self.now
        r.truncated = self.recording.truncated
        self._run_due(self.now)
        r.last_mid = self.market.mid()
        r.stats, r.stopped = self.instance.stats, self.instance.stopped
        r.logs = list(self.instance.stats.logs)
        return r

    # -- into the guest ----------------------------------------------------------------------

    def _on_book(self) -> None:
        bids, asks = self.market.depth(abi.MAX_LEVELS)
        p, q = self.prices.from_decimal, self.qtys.from_decimal
        tbids, tasks = [(p(a), q(b)) for a, b in bids], [(p(a), q(b)) for a, b in asks]
        if self.guest is None:
            self._actions(self.instance.on_book(abi.encode_book(0, self.now, tbids, tasks)))
            return
        px, sz = self.scales.px, self.scales.sz
        ubids, uasks = [(px(a), sz(b)) for a, b in tbids], [(px(a), sz(b)) for a, b in tasks]
        features = P.encode_features(ubids[:5], uasks[:5], self.now)
        self._public(self.guest.on_book(P.encode_book(ubids, uasks, self.now), features, self._view()))

    def _heartbeat(self) -> None:
        assert self.guest is not None
        self._public(self.guest.on_heartbeat(self._view()))
        self._at(self.now + HEARTBEAT_NS, self._heartbeat)

    def _view(self) -> P.StateView:
        """AlgoState for a public-SDK guest: what it has been told of its fills, its open orders."""
        s, held = self.scales, self.held
        bid, ask = self.market.book.bids.best(), self.market.book.asks.best()
        unrealised = held.unrealised((bid + ask) / 2) if bid is not None and ask is not None else Decimal(0)
        orders = []
        for o in self._open():
            filled = self.qtys.from_decimal(o.order.filled) if o.order is not None else 0
            status = P.STATUS_PENDING if o.order is None else P.STATUS_PARTIAL if filled else P.STATUS_ACKED
            orders.append(P.OpenOrder(o.tag, 0 if o.price is None else s.px(self.prices.from_decimal(o.price)),
                                      s.sz(self.qtys.from_decimal(o.qty)), s.sz(filled),
                                      1 if o.side is Side.BUY else -1, status))
        return P.StateView(s.sz(self.reported_position), int(held.cost * 1_000_000_000),
                           int(held.realised * 1_000_000_000), int(unrealised * 1_000_000_000),
                           self.instance.stats.fills, orders)

    def _public(self, actions: list[P.PublicAction]) -> None:
        """A public guest's actions in the edge's terms, as the edge converts them (one it cannot
        carry out is rejected back to the guest)."""
        native = []
        for a in actions:
            converted = P.to_native(a, self.scales)
            if isinstance(converted, str):
                self._deny(converted, a.order_id)
            elif a.pool_idx > 1 or a.venue_id not in (0, P.venue_id(self.venue)):
                self._deny(f"order {a.order_id} targets venue {a.venue_id} pool {a.pool_idx}: a backtest trades "
                           f"only the recorded venue's book", a.order_id)
            else:
                native.append(converted)
        self._actions(native)

    def _report_fills(self) -> None:
        for f in self.market.take_fills():
            placed = self.by_order_id.get(f.order.order_id)
            assert placed is not None, f"a fill of order {f.order.order_id}, which the algo never placed"
            placed.fills.append(f)
            self.result.fills.append((f, placed, self.market.mid()))
            self._at(self.now + self._trip(), functools.partial(self._fill_report, f, placed))

    def _fill_report(self, f: AlgoFill, placed: AlgoOrder) -> None:
        lots = self.qtys.from_decimal(f.fill.qty)
        buy = f.fill.side is Side.BUY
        self.reported_position += lots if buy else -lots
        self.held.add(1 if buy else -1, f.fill.price, f.fill.qty)
        self.instance.stats.fills += 1
        if self.guest is not None:
            self.guest.on_fill(P.encode_fill(placed.tag, self.scales.px(self.prices.from_decimal(f.fill.price)),
                                             self.scales.sz(lots), self.now, 1 if buy else -1), self._view())
            return
        fee_quote = f.fill.fee * f.fill.price if f.fill.fee_asset != self.symbol.split("/")[1] else f.fill.fee
        event = abi.encode_fill(placed.tag, abi.SIDE_BUY if buy else abi.SIDE_SELL,
                                abi.LIQUIDITY_MAKER if f.fill.is_maker else abi.LIQUIDITY_TAKER,
                                self.prices.from_decimal(f.fill.price), lots,
                                int((fee_quote * 100_000_000).to_integral_value(ROUND_FLOOR)), self.now,
                                self.reported_position)
        self._actions(self.instance.on_event("on_fill", event))

    def _set_timer(self, timer_id: int, after_ms: int) -> None:
        seq = self._at(self.now + after_ms * 1_000_000, lambda: self._fire(timer_id, seq))
        self.timers[timer_id] = seq

    def _fire(self, timer_id: int, seq: int) -> None:
        if self.timers.get(timer_id) == seq:  # not replaced since
            del self.timers[timer_id]
            self._actions(self.instance.on_timer(timer_id))

    # -- out of the guest ----------------------------------------------------------------------

    def _open(self) -> list[AlgoOrder]:
        self.live = [o for o in self.live if o.is_open]
        return self.live

    def _actions(self, actions: list[abi.Action]) -> None:
        for a in actions:
            if a.kind == abi.KIND_PLACE:
                self._place(a)
            elif a.kind in (abi.KIND_CANCEL, abi.KIND_CANCEL_ALL):
                tag = a.tag if a.kind == abi.KIND_CANCEL else None
                self._at(self.now + self._trip(), functools.partial(self._cancel, tag))
            else:
                self._deny(f"unknown action kind {a.kind}", a.tag)

    def _deny(self, why: str, tag: int = 0, code: int = P.REJECT_INVALID) -> None:
        self.result.denied += 1
        self.instance.stats.denied += 1
        self.instance.stats.log(f"denied: {why}")
        self._reject(tag, code)

    def _reject(self, tag: int, code: int) -> None:
        if self.guest is not None and not self.instance.stopped:
            self.guest.on_reject(tag, code)

    def _place(self, a: abi.Action) -> None:
        if a.side not in (abi.SIDE_BUY, abi.SIDE_SELL) or a.order_type not in _TYPES or a.qty_lots <= 0 or (
                a.order_type != abi.TYPE_MARKET and a.price_ticks <= 0):
            self._deny(f"malformed place action {a}", a.tag)
            return
        if len(self._open()) >= MAX_OPEN:
            self._deny(f"{MAX_OPEN} open orders, the limit", a.tag, P.REJECT_RISK)
            return
        price = None if a.order_type == abi.TYPE_MARKET else self.prices.to_decimal(a.price_ticks)
        placed = AlgoOrder(a.tag, Side.BUY if a.side == abi.SIDE_BUY else Side.SELL, a.order_type, price,
                           self.qtys.to_decimal(a.qty_lots), self.now, self.market.mid())
        self.result.orders.append(placed)
        self.live.append(placed)
        self.instance.stats.orders += 1
        self._at(self.now + self._trip(), lambda: self._arrive(placed))

    def _arrive(self, placed: AlgoOrder) -> None:
        placed.arrived_ns = self.now
        order_type, tif = _TYPES[placed.kind]
        try:
            order = self.market.submit(placed.side, order_type, placed.qty, placed.price, tif)
        except Rejected as exc:
            placed.reject = exc.msg
            self.instance.stats.log(f"warn: order tag {placed.tag} rejected: {exc.msg}")
            self._reject(placed.tag, P.REJECT_INVALID)
            return
        placed.order = order
        self.by_order_id[order.order_id] = placed
        self._report_fills()

    def _cancel(self, tag: int | None) -> None:
        for placed in self._open():
            if placed.order is not None and (tag is None or placed.tag == tag):
                self.market.cancel(placed.order.order_id)
                self.result.cancels += 1


def open_recording(path: Any, partial: bool = False) -> Recording:
    try:
        return Recording(path, partial)
    except OSError as exc:
        raise RecordingError(f"{path}: {exc.strerror}") from None


__all__ = ["AbiViolation", "Backtest", "Settings", "open_recording"]
