"""WebSocket `/v1/stream`: live prices, books, trades, the client's orders and fills, algo status,
and order entry, over one connection (docs/api.md, "Streams").

Every message the CC sends carries `seq`, consecutive on the connection: a jump is a gap. The
client's order and fill events also carry `event_seq`, a sequence per client and channel that
outlives connections: a client resubscribes `after` the last one it saw (with the `epoch` of this
CC process) and gets what it missed from a bounded replay log, or, beyond it, a `resync` with a
snapshot of its live orders.

Nothing here waits for a client. Producers (the bus, inline on the event loop) render a message
once and append it to each subscribed connection's queue; one writer task per connection sends
them. A connection whose queue grows past `QUEUE_LIMIT` or whose oldest queued message waited
longer than `MAX_LAG_S` is dropped: its queue is discarded, it gets `resync` (after a gap in
`seq`) and is closed with code 4000, so a slow reader costs the CC a bounded queue, never time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from ..algos.manager import SHARED_OWNER
from ..bus import BookChanged, FillBooked, OrderUpdated, TradePrinted
from ..domain import PARENT_TERMINAL, ClientRecord, Parent, Role
from ..errors import OrderError
from .deps import ApiDeps
from .fills import fill_view
from .metrics import Metrics
from .parsing import BadInput, parse_symbol
from .placing import invalid_body, place
from .ratelimit import RequestLimiter, rate_limited
from .schemas import OrderRequest

log = logging.getLogger(__name__)

QUEUE_LIMIT = 2000  # messages waiting for one connection
MAX_LAG_S = 5.0  # the oldest of them waited this long: the client does not keep up
REPLAY = 2000  # order (and fill) events kept per client for a resume
BOOK_INTERVAL_S = 0.25  # books are sent at most this often per symbol (prices at once)
STALE_CHECK_TICKS = 4  # book ticks between looks at venues that went stale without an update
ALGO_INTERVAL_S = 1.0  # algo status is polled from the edges this often while someone watches
AUTH_TIMEOUT_S = 10.0
MAX_DEPTH = 100
MAX_MESSAGE = 64 * 1024  # bytes of one client message
MAX_INFLIGHT = 64  # submits of one connection being placed at once
CLOSE_RESYNC, CLOSE_UNAUTHORIZED, CLOSE_REFUSED = 4000, 4001, 4008

OrderView = Callable[[Parent, bool], dict[str, Any]]
PRIVATE = ("orders", "fills")
CHANNELS = ("prices", "books", "trades", *PRIVATE, "algos")


def _with_seq(seq: int, body: bytes) -> bytes:
    """A rendered message (a JSON object) with the connection's `seq` first."""
    return b'{"seq":%d,%s' % (seq, body[1:])


def _dumps(message: object) -> bytes:
    return orjson.dumps(message)


class ReplayLog:
    """One client's events of one private channel: numbered, the last REPLAY of them kept."""

    def __init__(self) -> None:
        self.seq = 0
        self.events: deque[tuple[int, bytes]] = deque(maxlen=REPLAY)
        self.last_view: dict[str, bytes] = {}  # order id -> its last view sent (orders: skip repeats)

    def add(self, message: dict[str, Any]) -> bytes:
        self.seq += 1
        body = _dumps({**message, "event_seq": self.seq})
        self.events.append((self.seq, body))
        return body

    def since(self, after: int) -> list[bytes] | None:
        """The events after `after`, or None when some of them are no longer kept (or `after`
        is from the future: another CC process's numbering)."""
        if after > self.seq:
            return None
        oldest = self.events[0][0] if self.events else self.seq + 1
        if after + 1 < oldest:
            return None
        return [body for seq, body in self.events if seq > after]


@dataclass(eq=False)
class Connection:
    client: ClientRecord
    queue: deque[tuple[float, bytes]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    seq: int = 0
    dropped: bool = False
    revoked: bool = False  # its key was revoked: the writer sends what is queued, then closes
    prices: set[str] = field(default_factory=set)
    trades: set[str] = field(default_factory=set)
    books: dict[str, int] = field(default_factory=dict)  # symbol -> depth
    private: set[str] = field(default_factory=set)
    algos: dict[str, bytes] | None = None  # watching: algo name -> its last view sent
    inflight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_INFLIGHT))

    @property
    def client_id(self) -> str:
        return self.client.client_id

    def push(self, body: bytes) -> None:
        """Queue a rendered message; a connection that does not keep up is dropped instead."""
        if self.dropped:
            return
        now = time.monotonic()
        if len(self.queue) >= QUEUE_LIMIT or (self.queue and now - self.queue[0][0] > MAX_LAG_S):
            self.queue.clear()
            self.dropped = True
            body = _dumps({"type": "resync", "channel": "*", "reason": "the connection fell behind: its queue was "
                           "dropped; reconnect and resubscribe (orders and fills `after` their last event_seq)"})
        self.seq += 1
        self.queue.append((now, _with_seq(self.seq, body)))
        self.wake.set()

    def send(self, message: dict[str, Any]) -> None:
        self.push(_dumps(message))

    async def write(self, ws: WebSocket) -> None:
        """Send what is queued, in order; after a drop's `resync`, close."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                _, payload = self.queue.popleft()
                await ws.send_text(payload.decode())
            if self.dropped:
                await ws.close(CLOSE_RESYNC, "resync")
                return
            if self.revoked:
                await ws.close(CLOSE_UNAUTHORIZED, "revoked")
                return


class StreamHub:
    """The connections and what they follow; fed by the bus."""

    def __init__(self, deps: ApiDeps, metrics: Metrics, order_view: OrderView) -> None:
        self.deps, self.metrics, self.order_view = deps, metrics, order_view
        self.md = deps.marketdata
        self.epoch = f"{time.time_ns():x}"  # this process's event numbering
        self.conns: set[Connection] = set()
        self.logs: dict[str, dict[str, ReplayLog]] = {}  # client -> channel -> its events
        self.dropped = Counter("seqmesh_cc_stream_dropped", "stream connections dropped to a resync for falling "
                               "behind", registry=metrics.registry)
        Gauge("seqmesh_cc_stream_connections", "open stream connections",
              registry=metrics.registry).set_function(lambda: len(self.conns))
        self._tops: dict[str, bytes] = {}  # symbol -> its venues' tops last sent
        self._dirty_prices: set[str] = set()
        self._dirty_books: set[str] = set()
        self._flush: asyncio.Handle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        bus = deps.marketdata.bus
        bus.subscribe(BookChanged, self._on_book)
        bus.subscribe(TradePrinted, self._on_trade)
        bus.subscribe(OrderUpdated, self._on_order)
        bus.subscribe(FillBooked, self._on_fill)

    # -- connections ---------------------------------------------------------------------------

    def attach(self, client: ClientRecord) -> Connection:
        conn = Connection(client)
        self.conns.add(conn)
        self.logs.setdefault(client.client_id, {c: ReplayLog() for c in PRIVATE})
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
        return conn

    def revoke(self, client_id: str) -> None:
        """A revoked key's connections get nothing more: told why, then closed."""
        for conn in [c for c in self.conns if c.client_id == client_id]:
            conn.send({"type": "error", "error": {"code": "UNAUTHORIZED",
                                                  "message": f"client {client_id!r} was revoked"}})
            conn.revoked = True
            self.conns.discard(conn)

    def detach(self, conn: Connection) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            if conn.dropped:
                self.dropped.inc()

    def _fan_out(self, body: bytes, targets: list[Connection]) -> None:
        for conn in targets:
            conn.push(body)
            if conn.dropped:  # no more for it: its writer sends the resync and closes
                self.detach(conn)

    # -- market data ---------------------------------------------------------------------------

    def _on_book(self, ev: BookChanged) -> None:
        if not self.conns:
            return
        self._dirty_books.add(ev.symbol)
        self._dirty_prices.add(ev.symbol)
        if self._flush is None:  # the updates of one loop turn (a batch from an edge) make one message
            self._flush = asyncio.get_running_loop().call_soon(self._send_prices)

    def _send_prices(self) -> None:
        self._flush = None
        dirty, self._dirty_prices = self._dirty_prices, set()
        for symbol in dirty:
            if not any(symbol in c.prices for c in self.conns):
                continue
            tops = _dumps([(vb.venue, *map(str, vb.best()), self.md.is_stale(vb))
                           for vb in self.md.venue_books(symbol)])
            if self._tops.get(symbol) == tops:
                continue  # deeper levels moved: the prices did not
            self._tops[symbol] = tops
            body = self._prices(symbol)
            self._fan_out(body, [c for c in self.conns if symbol in c.prices])

    def _prices(self, symbol: str) -> bytes:
        return _dumps({"type": "prices", "symbol": symbol, "bbo": self.md.bbo(symbol), "nbbo": self.md.nbbo(symbol)})

    def _book(self, symbol: str, depth: int) -> bytes:
        return _dumps({"type": "book", **self.md.unified(symbol, depth)})

    async def _tick(self) -> None:
        """While anyone is connected: books at most every BOOK_INTERVAL_S, and venues gone stale
        (no update tells of that) every few ticks."""
        ticks = 0
        while self.conns:
            await asyncio.sleep(BOOK_INTERVAL_S)
            ticks += 1
            dirty, self._dirty_books = self._dirty_books, set()
            wanted = {(s, d) for c in self.conns for s, d in c.books.items() if s in dirty}
            for symbol, depth in sorted(wanted):
                body = self._book(symbol, depth)
                self._fan_out(body, [c for c in self.conns if c.books.get(symbol) == depth])
            if ticks % STALE_CHECK_TICKS == 0:
                self._dirty_prices.update(s for c in self.conns for s in c.prices)
                self._send_prices()

    def _on_trade(self, ev: TradePrinted) -> None:
        if not self.conns:
            return
        ring = self.md.trades.get(ev.symbol)
        trade = ring[-1] if ring else None  # the ring gets the trade before the bus hears of it
        if trade is None or trade["venue"] != ev.venue:
            trade = {"venue": ev.venue, "symbol": ev.symbol, "price": str(ev.price), "qty": str(ev.qty),
                     "ts": {"exchange_ts": ev.ts_ns}}
        self._fan_out(_dumps({"type": "trade", **trade}), [c for c in self.conns if ev.symbol in c.trades])

    # -- the client's orders and fills -----------------------------------------------------------

    def _on_order(self, ev: OrderUpdated) -> None:
        p = ev.parent
        logs = self.logs.get(p.client)
        if logs is None:  # a client that never connected has nothing to resume
            return
        orders = logs["orders"]
        view = _dumps(self.order_view(p, False))
        if orders.last_view.get(p.order_id) == view:
            return
        if p.state in PARENT_TERMINAL:
            orders.last_view.pop(p.order_id, None)
        else:
            orders.last_view[p.order_id] = view
        body = orders.add({"type": "order", "channel": "orders", "order": orjson.Fragment(view)})
        self._fan_out(body, [c for c in self.conns if c.client_id == p.client and "orders" in c.private])

    def _on_fill(self, ev: FillBooked) -> None:
        logs = self.logs.get(ev.client)
        if logs is None:
            return
        view = fill_view(ev.fill)
        if ev.parent is None:  # an algo's (WASM) order, not one of the client's orders
            view.update(order_id=None, algo=True)
        body = logs["fills"].add({"type": "fill", "channel": "fills", "fill": view})
        self._fan_out(body, [c for c in self.conns if c.client_id == ev.client and "fills" in c.private])

    def subscribe_private(self, conn: Connection, channel: str, after: int | None, epoch: str | None) -> None:
        """Follow `channel` from `after` (what the log still has), else from a snapshot."""
        events = self.logs[conn.client_id][channel]
        missed = events.since(after) if after is not None and epoch == self.epoch else None
        conn.private.add(channel)
        if missed is not None:
            conn.send({"type": "subscribed", "channel": channel, "event_seq": events.seq, "epoch": self.epoch,
                       "replayed": len(missed)})
            for body in missed:
                conn.push(body)
            return
        snapshot: dict[str, Any] = {"type": "snapshot" if after is None else "resync", "channel": channel,
                                    "event_seq": events.seq, "epoch": self.epoch}
        if channel == "orders":
            snapshot["orders"] = [self.order_view(p, False) for p in self.deps.cache.live_parents()
                                  if p.client == conn.client_id]
        else:
            snapshot["history"] = "/v1/fills"  # the ledger pages them; the stream goes on from event_seq
        conn.send(snapshot)

    # -- algos ---------------------------------------------------------------------------------

    def watch_algos(self, conn: Connection) -> None:
        conn.algos = {}
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_algos())

    async def _poll_algos(self) -> None:
        algos = self.deps.algos
        assert algos is not None
        while any(c.algos is not None for c in self.conns):
            try:
                statuses = await algos.statuses()
            except Exception:
                log.exception("stream: reading algo status failed")
                statuses = []
            for conn in [c for c in self.conns if c.algos is not None]:
                seen = conn.algos
                assert seen is not None
                mine = {a["name"]: a for a in statuses if a["owner"] in (conn.client_id, SHARED_OWNER)}
                for name, algo in mine.items():
                    body = _dumps({"type": "algo", "algo": algo})
                    if seen.get(name) != body:
                        seen[name] = body
                        conn.push(body)
                for name in seen.keys() - mine.keys():
                    del seen[name]
                    conn.send({"type": "algo", "algo": {"name": name, "state": "Removed"}})
            await asyncio.sleep(ALGO_INTERVAL_S)

    # -- what a client asks ----------------------------------------------------------------------

    def symbols_of(self, message: dict[str, Any], required: bool) -> list[str]:
        raw = message.get("symbols")
        if raw is None:
            if required:
                raise OrderError("INVALID_MESSAGE", "symbols: name them, e.g. [\"BTC/USDT\"]")
            return self.md.symbols()
        if not isinstance(raw, list) or not raw:
            raise OrderError("INVALID_MESSAGE", "symbols: a non-empty list like [\"BTC/USDT\"]")
        out = []
        for value in raw:
            try:
                s = parse_symbol(value)
            except BadInput as exc:
                raise OrderError(exc.code, str(exc)) from None
            if s not in self.md.symbols():
                raise OrderError("UNKNOWN_SYMBOL", f"no venue lists {s}; see GET /v1/pairs", 404)
            out.append(s)
        return out

    def subscribe(self, conn: Connection, m: dict[str, Any]) -> None:
        channel = m.get("channel")
        if channel not in CHANNELS:
            raise OrderError("INVALID_MESSAGE", f"channel: one of {', '.join(CHANNELS)}, got {channel!r}")
        if channel in PRIVATE:
            after, epoch = m.get("after"), m.get("epoch")
            if after is not None and (not isinstance(after, int) or after < 0):
                raise OrderError("INVALID_MESSAGE", "after: the last event_seq seen, an integer >= 0")
            self.subscribe_private(conn, channel, after, epoch if isinstance(epoch, str) else None)
            return
        if channel == "algos":
            if self.deps.algos is None:
                raise OrderError("ALGOS_UNAVAILABLE", "this CC runs no algos", 409)
            conn.send({"type": "subscribed", "channel": "algos"})
            self.watch_algos(conn)
            return
        symbols = self.symbols_of(m, required=channel == "books")
        conn.send({"type": "subscribed", "channel": channel, "symbols": symbols})
        if channel == "prices":
            conn.prices.update(symbols)
            for s in symbols:
                conn.push(self._prices(s))
        elif channel == "trades":
            conn.trades.update(symbols)
        else:
            depth = m.get("depth", 20)
            if not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
                raise OrderError("INVALID_MESSAGE", f"depth: an integer from 1 to {MAX_DEPTH}")
            for s in symbols:
                conn.books[s] = depth
                conn.push(self._book(s, depth))

    def unsubscribe(self, conn: Connection, m: dict[str, Any]) -> None:
        channel = m.get("channel")
        if channel not in CHANNELS:
            raise OrderError("INVALID_MESSAGE", f"channel: one of {', '.join(CHANNELS)}, got {channel!r}")
        if channel in PRIVATE:
            conn.private.discard(channel)
        elif channel == "algos":
            conn.algos = None
        else:
            held: set[str] | dict[str, int] = getattr(conn, channel)
            for s in self.symbols_of(m, required=False) if m.get("symbols") is not None else list(held):
                if isinstance(held, dict):
                    held.pop(s, None)
                else:
                    held.discard(s)
        conn.send({"type": "unsubscribed", "channel": channel})

    async def submit(self, conn: Connection, request_id: Any, order: Any) -> None:
        """Place an order as `POST /v1/orders` does; answer `ack` (status 201, or 200 for a known
        client_order_id) or `error` with the REST refusal's status, code and message."""
        async with conn.inflight:
            try:
                current = self.deps.clients.by_id.get(conn.client_id)
                if current is None or not current.active:
                    raise OrderError("UNAUTHORIZED", f"client {conn.client_id!r} was revoked", 401)
                try:
                    req = OrderRequest.model_validate(order)
                except ValidationError as exc:
                    code, message, problems = invalid_body(exc.errors(), self.metrics)
                    conn.send({"type": "error", "id": request_id, "status": 400,
                               "error": {"code": code, "message": message, "problems": problems}})
                    return
                parent, created = await place(self.deps, self.metrics, conn.client_id, req)
                conn.send({"type": "ack", "id": request_id, "status": 201 if created else 200,
                           "order": self.order_view(parent, True)})
            except OrderError as exc:
                self.metrics.rejections.labels(exc.code).inc()
                conn.send({"type": "error", "id": request_id, "status": exc.status,
                           "error": {"code": exc.code, "message": exc.message, **exc.detail}})
            except Exception:
                log.exception("stream: submit failed")
                conn.send({"type": "error", "id": request_id, "status": 500,
                           "error": {"code": "INTERNAL", "message": "the order could not be placed: see the CC's log"}})


def _bearer(ws: WebSocket) -> str:
    scheme, _, token = ws.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def stream_routes(deps: ApiDeps, metrics: Metrics, order_view: OrderView, limiter: RequestLimiter) -> APIRouter:
    """`limiter`: the REST gate's; every stream message (and the connection itself) takes a token
    from the client's one bucket."""
    r = APIRouter()
    hub = StreamHub(deps, metrics, order_view)
    deps.clients.on_revoke.append(hub.revoke)
    tasks: set[asyncio.Task[None]] = set()  # submits run to their end, even past a disconnect

    async def first_key(ws: WebSocket) -> str:
        """The key of an `{"op": "auth", "key": ...}` first message (no Authorization header)."""
        with contextlib.suppress(Exception):  # silence, a disconnect, not JSON, not an auth message
            message = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
            m = orjson.loads(message)
            if m.get("op") == "auth" and isinstance(m.get("key"), str):
                return str(m["key"])
        return ""

    @r.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        client = deps.clients.authenticate(_bearer(ws) or await first_key(ws))
        if client is None:
            with contextlib.suppress(Exception):
                await ws.send_text(_dumps({"seq": 1, "type": "error", "error": {
                    "code": "UNAUTHORIZED", "message": "send 'Authorization: Bearer <api key>' or first "
                    "{\"op\": \"auth\", \"key\": \"<api key>\"}, with a key of an active client"}}).decode())
                await ws.close(CLOSE_UNAUTHORIZED, "unauthorized")
            return
        settings = deps.settings
        refusal = None
        if client.role is Role.MONITOR:
            refusal = ("FORBIDDEN", f"client {client.client_id!r} is a monitor: it reads /metrics only")
        elif sum(c.client_id == client.client_id for c in hub.conns) >= settings.streams_per_client:
            refusal = ("TOO_MANY_STREAMS", f"client {client.client_id!r} already has "
                       f"{settings.streams_per_client} open streams")
        elif limiter.admit(client, settings) > 0:
            refusal = ("RATE_LIMITED", rate_limited(client, settings))
        if refusal is not None:
            metrics.rejections.labels(refusal[0]).inc()
            with contextlib.suppress(Exception):
                await ws.send_text(_dumps({"seq": 1, "type": "error", "error": {
                    "code": refusal[0], "message": refusal[1]}}).decode())
                await ws.close(CLOSE_REFUSED, refusal[0].lower())
            return
        conn = hub.attach(client)
        conn.send({"type": "welcome", "client": client.client_id, "region": deps.settings.region,
                   "epoch": hub.epoch, "channels": list(CHANNELS)})
        writer = asyncio.create_task(conn.write(ws))
        writer.add_done_callback(lambda t: t.cancelled() or t.exception())  # a send to a closed socket: ended
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if conn.dropped or conn.revoked:  # read on (the client is never stuck sending) until the writer closes
                    continue
                data = message.get("text") or message.get("bytes") or b""
                if len(data) > MAX_MESSAGE:
                    conn.send({"type": "error", "error": {"code": "MESSAGE_TOO_LARGE",
                                                          "message": f"a message is at most {MAX_MESSAGE} bytes"}})
                    continue
                try:
                    m = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    conn.send({"type": "error", "error": {"code": "INVALID_MESSAGE", "message": f"not JSON: {exc}"}})
                    continue
                request_id = m.get("id") if isinstance(m, dict) else None
                wait = limiter.admit(client, settings)
                if wait > 0:  # not acted on: the client sends it again after retry_after_s
                    metrics.rejections.labels("RATE_LIMITED").inc()
                    conn.send({"type": "error", "id": request_id, "status": 429, "error": {
                        "code": "RATE_LIMITED", "message": rate_limited(client, settings),
                        "retry_after_s": round(wait, 3)}})
                    continue
                try:
                    op = m.get("op") if isinstance(m, dict) else None
                    if op == "subscribe":
                        hub.subscribe(conn, m)
                    elif op == "unsubscribe":
                        hub.unsubscribe(conn, m)
                    elif op == "submit":
                        task = asyncio.create_task(hub.submit(conn, request_id, m.get("order")))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    elif op == "ping":
                        conn.send({"type": "pong", "id": request_id, "ts_ns": time.time_ns()})
                    else:
                        raise OrderError("INVALID_MESSAGE", "op: one of subscribe, unsubscribe, submit, ping, "
                                         f"got {op!r}")
                except OrderError as exc:
                    conn.send({"type": "error", "id": request_id, "status": exc.status,
                               "error": {"code": exc.code, "message": exc.message, **exc.detail}})
        except Exception as exc:  # the client went away mid-send or mid-receive
            log.debug("stream of %s ended: %r", client.client_id, exc)
        finally:
            hub.detach(conn)
            writer.cancel()
            if ws.client_state is WebSocketState.CONNECTED and not conn.dropped:
                with contextlib.suppress(Exception):
                    await ws.close()

    return r
