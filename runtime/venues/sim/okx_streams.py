"""The OKX v5 public WebSocket (`/ws/v5/public`): `books` and `trades` channels.

`{"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}` is answered with a
`subscribe` event, then a `snapshot` of the best 400 levels per side; every `depth_interval_ms`
the levels of those 400 that changed follow as an `update` (size "0" removes a level). Each
frame carries `seqId`, `prevSeqId` (the previous frame's `seqId`, -1 on a snapshot: what ccxt
checks) and OKX's `checksum` of the best 25 levels. A level counts as changed when its size or
its number of orders did, and a level that enters the best 400 from deeper is sent too, so a
client applying the frames holds exactly the venue's best 400.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import orjson
from aiohttp import web

from . import okx_format as fmt
from .instruments import Instrument
from .matching import LevelChange, MatchingEngine, PublicTrade
from .streams import Connection, SocketHub

CHANNELS = ("books", "trades")
_conn_ids = itertools.count(1)


@dataclass
class _Published:
    """A book as its subscribers hold it: what the last frame left them with."""

    seq_id: int
    bids: dict[str, list[str]]  # price -> level as sent
    asks: dict[str, list[str]]


def _changed(before: dict[str, list[str]], after: list[list[str]]) -> list[list[str]]:
    now = {lv[0]: lv for lv in after}
    return [lv for lv in after if before.get(lv[0]) != lv] + [[p, "0", "0", "0"] for p in before if p not in now]


class OkxStreamHub(SocketHub):
    def __init__(self, engine: MatchingEngine, depth_interval_ms: int, latency_ms: float) -> None:
        super().__init__(engine, depth_interval_ms, latency_ms)
        self.by_inst_id = {fmt.inst_id(i): i for i in engine.instruments.values()}
        self.published: dict[str, _Published] = {}  # only while the book has subscribers
        self.dirty: set[str] = set()
        self.conn_ids: dict[Connection, str] = {}
        engine.book_listeners.append(self._on_level)
        engine.trade_listeners.append(self._on_trade)

    # -- engine events ---------------------------------------------------------------------

    def _on_level(self, change: LevelChange) -> None:
        self.dirty.add(change.symbol)

    def _on_trade(self, trade: PublicTrade) -> None:
        inst = self.engine.instruments[trade.symbol]
        subs = self.subscribers.get(f"trades:{fmt.inst_id(inst)}")
        if subs:
            frame = orjson.dumps({"arg": {"channel": "trades", "instId": fmt.inst_id(inst)},
                                  "data": [fmt.public_trade(trade, inst)]})
            for conn in subs:
                conn.push(frame)

    def _top(self, inst: Instrument) -> tuple[int, list[list[str]], list[list[str]]]:
        seq_id, bids, asks = self.engine.counted_depth(inst.symbol, fmt.BOOK_DEPTH)
        return seq_id, fmt.levels(bids), fmt.levels(asks)

    @staticmethod
    def _frame(inst: Instrument, action: str, bids: list[list[str]], asks: list[list[str]],
               top: tuple[list[list[str]], list[list[str]]], seq_id: int, prev: int, ts: int) -> bytes:
        return orjson.dumps({"arg": {"channel": "books", "instId": fmt.inst_id(inst)}, "action": action, "data": [
            {"asks": asks, "bids": bids, "ts": str(ts), "checksum": fmt.checksum(*top), "prevSeqId": prev,
             "seqId": seq_id}]})

    def flush_depth(self) -> None:
        now = self.engine.clock_ms()
        for symbol in self.dirty:
            pub = self.published.get(symbol)
            if pub is None:
                continue  # nobody holds this book
            inst = self.engine.instruments[symbol]
            seq_id, bids, asks = self._top(inst)
            changed_bids, changed_asks = _changed(pub.bids, bids), _changed(pub.asks, asks)
            if not (changed_bids or changed_asks):
                continue  # the change was deeper than the best 400
            frame = self._frame(inst, "update", changed_bids, changed_asks, (bids, asks), seq_id, pub.seq_id, now)
            self.published[symbol] = _Published(seq_id, {lv[0]: lv for lv in bids}, {lv[0]: lv for lv in asks})
            for conn in self.subscribers.get(f"books:{fmt.inst_id(inst)}", ()):
                conn.push(frame)
        self.dirty.clear()

    def _snapshot(self, inst: Instrument) -> bytes:
        """The book as its subscribers hold it (their next update follows on from it)."""
        pub = self.published.get(inst.symbol)
        if pub is None:
            seq_id, bids, asks = self._top(inst)
            pub = self.published[inst.symbol] = _Published(seq_id, {lv[0]: lv for lv in bids},
                                                           {lv[0]: lv for lv in asks})
        # The dicts keep the order the levels were sent in: best first.
        bids, asks = list(pub.bids.values()), list(pub.asks.values())
        return self._frame(inst, "snapshot", bids, asks, (bids, asks), pub.seq_id, -1, self.engine.clock_ms())

    # -- sockets ---------------------------------------------------------------------------

    def _on_text(self, conn: Connection, text: str) -> None:
        if text == "ping":
            conn.push(b"pong")
            return
        conn_id = self.conn_ids[conn]
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.push(self._error("60012", f"Invalid request: {text}", conn_id))
            return
        op = msg.get("op") if isinstance(msg, dict) else None
        args = msg.get("args") if isinstance(msg, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
            conn.push(self._error("60012", f"Invalid request: {text}", conn_id))
            return
        for arg in args:
            channel = arg.get("channel") if isinstance(arg, dict) else None
            inst = self.by_inst_id.get(arg.get("instId", "")) if isinstance(arg, dict) else None
            if channel not in CHANNELS or inst is None:
                conn.push(self._error("60018", f"Wrong URL or channel:{channel},instId:{arg} doesn't exist. "
                                               "Please use the correct URL, channel and parameters.", conn_id))
                continue
            name = f"{channel}:{fmt.inst_id(inst)}"
            reply = {"event": op, "arg": {"channel": channel, "instId": fmt.inst_id(inst)}, "connId": conn_id}
            if op == "unsubscribe":
                self._unsubscribe(conn, name)
                conn.push(orjson.dumps(reply))
                continue
            self._subscribe(conn, name)
            conn.push(orjson.dumps(reply))
            if channel == "books":
                conn.push(self._snapshot(inst))

    def _unsubscribe(self, conn: Connection, name: str) -> None:
        super()._unsubscribe(conn, name)
        self._forget_unwatched(name)

    def _on_open(self, conn: Connection, request: web.Request) -> None:
        self.conn_ids[conn] = format(next(_conn_ids), "08x")

    def _on_close(self, conn: Connection) -> None:
        super()._on_close(conn)
        self.conn_ids.pop(conn, None)
        for name in conn.streams:
            self._forget_unwatched(name)

    def _forget_unwatched(self, name: str) -> None:
        """A book nobody holds is no longer kept up to date; the next subscriber gets a fresh one."""
        channel, _, iid = name.partition(":")
        if channel == "books" and not self.subscribers.get(name):
            self.published.pop(self.by_inst_id[iid].symbol, None)

    @staticmethod
    def _error(code: str, msg: str, conn_id: str) -> bytes:
        return orjson.dumps({"event": "error", "code": code, "msg": msg, "connId": conn_id})
