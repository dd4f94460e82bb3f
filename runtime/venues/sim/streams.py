"""The WebSocket side: what every dialect's sockets share (`SocketHub`), and the Binance
dialect's SUBSCRIBE/UNSUBSCRIBE with its diff-depth and trade streams (`StreamHub`).

Binance depth changes are coalesced per symbol and flushed every `depth_interval_ms` as one
`depthUpdate` frame whose `U`..`u` cover exactly the update ids in it, so consecutive frames
satisfy `U == previous u + 1` (what ccxt checks). Trades go out as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from . import binance_format as fmt
from .matching import LevelChange, MatchingEngine, PublicTrade

log = logging.getLogger(__name__)
DEPTH_SUFFIXES = ("@depth", "@depth@100ms", "@depth@1000ms")


class Connection:
    """One client socket with its own ordered, latency-delayed send queue."""

    def __init__(self, ws: web.WebSocketResponse, latency_s: float) -> None:
        self.ws = ws
        self.latency_s = latency_s
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=100_000)
        self.streams: set[str] = set()
        self.sender = asyncio.create_task(self._send_loop())

    def push(self, frame: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.queue.put_nowait((loop.time() + self.latency_s, frame))
        except asyncio.QueueFull:  # a client too slow to drain: cut it, as venues do
            self.sender.cancel()

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError, RuntimeError):
            while True:
                due, frame = await self.queue.get()
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.ws.send_str(frame.decode())
        if not self.ws.closed:
            await self.ws.close()


class SocketHub:
    """What every dialect's WebSocket side does alike: accept sockets, hand each text frame to
    the dialect (`_on_text`), forget a closed socket's subscriptions, and flush book changes
    every `depth_interval_ms` (`flush_depth`)."""

    def __init__(self, engine: MatchingEngine, depth_interval_ms: int, latency_ms: float) -> None:
        self.engine = engine
        self.depth_interval = depth_interval_ms / 1000
        self.latency_s = latency_ms / 1000
        self.subscribers: defaultdict[str, set[Connection]] = defaultdict(set)

    def flush_depth(self) -> None:
        raise NotImplementedError

    async def run_depth_flusher(self) -> None:
        while True:
            await asyncio.sleep(self.depth_interval)
            self.flush_depth()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        # No permessage-deflate: the venues' streams do not compress, and deflating every depth
        # frame here and inflating it at the edge cost both sides CPU that a venue would not.
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20, compress=False)
        await ws.prepare(request)
        conn = Connection(ws, self.latency_s)
        self._on_open(conn, request)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._on_close(conn)
            conn.sender.cancel()
        return ws

    def _on_close(self, conn: Connection) -> None:
        for name in conn.streams:
            self.subscribers[name].discard(conn)

    def _subscribe(self, conn: Connection, name: str) -> None:
        conn.streams.add(name)
        self.subscribers[name].add(conn)

    def _unsubscribe(self, conn: Connection, name: str) -> None:
        conn.streams.discard(name)
        self.subscribers[name].discard(conn)

    def _on_open(self, conn: Connection, request: web.Request) -> None:
        """A socket just opened (a dialect may subscribe it from its URL)."""

    def _on_text(self, conn: Connection, text: str) -> None:
        raise NotImplementedError


class StreamHub(SocketHub):
    """The Binance dialect's streams."""

    def __init__(self, engine: MatchingEngine, depth_interval_ms: int, latency_ms: float) -> None:
        super().__init__(engine, depth_interval_ms, latency_ms)
        self.pending: defaultdict[str, list[LevelChange]] = defaultdict(list)
        engine.book_listeners.append(self._on_level)
        engine.trade_listeners.append(self._on_trade)

    # -- engine events ---------------------------------------------------------------------

    def _on_level(self, change: LevelChange) -> None:
        self.pending[change.symbol].append(change)

    def _on_trade(self, trade: PublicTrade) -> None:
        inst = self.engine.instruments[trade.symbol]
        subs = self.subscribers.get(f"{inst.venue_id.lower()}@trade")
        if subs:
            frame = orjson.dumps(fmt.trade_event(trade, inst))
            for conn in subs:
                conn.push(frame)

    def flush_depth(self) -> None:
        now = self.engine.clock_ms()
        for symbol, changes in self.pending.items():
            if not changes:
                continue
            inst = self.engine.instruments[symbol]
            self.pending[symbol] = []
            lower = inst.venue_id.lower()
            conns = set().union(*(self.subscribers.get(lower + s, set()) for s in DEPTH_SUFFIXES))
            if conns:
                frame = orjson.dumps(fmt.depth_event(inst, changes, now))
                for conn in conns:
                    conn.push(frame)

    # -- sockets ---------------------------------------------------------------------------

    def _on_open(self, conn: Connection, request: web.Request) -> None:
        # Raw-stream style URLs (`/ws/btcusdt@trade`, `/stream?streams=a/b`) subscribe at once.
        for name in request.query.get("streams", "").split("/"):
            if name:
                self._subscribe(conn, name)

    def _on_text(self, conn: Connection, text: str) -> None:
        conn.push(orjson.dumps(self._command(conn, text)))

    def _command(self, conn: Connection, text: str) -> dict[str, Any]:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            return {"error": {"code": 3, "msg": "Invalid JSON: expected a request object"}}
        if not isinstance(msg, dict):
            return {"error": {"code": 3, "msg": "Invalid request: expected an object"}}
        req_id = msg.get("id")
        method, params = msg.get("method"), msg.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return {"error": {"code": 2, "msg": "Invalid request: 'params' must be a list of stream names"},
                    "id": req_id}
        known = {i.venue_id.lower() for i in self.engine.instruments.values()}
        if method == "SUBSCRIBE":
            for name in params:
                if name.split("@", 1)[0] not in known:
                    return {"error": {"code": 2, "msg": f"Invalid request: unknown stream {name!r}"}, "id": req_id}
            for name in params:
                self._subscribe(conn, name)
            return {"result": None, "id": req_id}
        if method == "UNSUBSCRIBE":
            for name in params:
                self._unsubscribe(conn, name)
            return {"result": None, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.streams), "id": req_id}
        return {"error": {"code": 1, "msg": f"Unknown method {method!r}"}, "id": req_id}
