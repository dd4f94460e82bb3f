"""The edge's local copy of the venue book, and the market data it publishes from it.

Depth arrives as the venue's exact decimal strings; the local book keeps integer ticks and
lots (exact, and fast to compare). Each applied frame is published as one BookDelta with a
contiguous per-symbol `book_seq`, plus a Bbo item whenever the top of book changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seqmesh.runtime.book.l2 import L2Book
from seqmesh.runtime.book.numbers import DecimalScale
from seqmesh.runtime.proto import edge_pb2 as pb

from .gateway import InstrumentSpec
from .hub import MarketDataHub

RawLevels = Sequence[Sequence[str]]


@dataclass
class _SymbolBook:
    book: L2Book
    prices: DecimalScale
    qtys: DecimalScale
    seq: int = 0
    synced: bool = False
    top: tuple[int, int, int, int] = (0, 0, 0, 0)
    exchange_ts: int = 0
    recv_ts: int = 0
    venue_seq: int = 0


class BookFeed:
    def __init__(self, venue: str, instruments: dict[str, InstrumentSpec], hub: MarketDataHub,
                 snapshot_depth: int = 1000) -> None:
        self.venue = venue
        self.hub = hub
        self.snapshot_depth = snapshot_depth
        self.books = {
            s: _SymbolBook(L2Book(), DecimalScale(str(spec.tick)), DecimalScale(str(spec.lot)))
            for s, spec in instruments.items()
        }
        self.deltas_applied = 0
        self.last_frame_ns = 0
        #: called with the symbol after every applied update (the WASM algos' on_book)
        self.algo_hook: Callable[[str], None] | None = None
        #: more current items a new subscriber starts from (a DEX edge's pool states and gas)
        self.extra_snapshots: list[Callable[[], list[pb.MarketData]]] = []

    # -- input from the venue connection ---------------------------------------------------

    def on_snapshot(self, symbol: str, bids: RawLevels, asks: RawLevels, exchange_ms: int,
                    venue_seq: int = 0) -> None:
        sb = self.books[symbol]
        sb.venue_seq = venue_seq
        sb.book.load_snapshot([self._level(sb, lv) for lv in bids], [self._level(sb, lv) for lv in asks])
        sb.synced = True
        sb.seq += 1
        sb.exchange_ts, sb.recv_ts = exchange_ms * 1_000_000, time.time_ns()
        self.hub.publish(symbol, pb.MarketData(venue=self.venue, snapshot=self.snapshot_of(symbol)))
        self._publish_bbo_if_changed(symbol, sb)

    def on_delta(self, symbol: str, bids: RawLevels, asks: RawLevels, exchange_ms: int,
                 venue_seq: int = 0) -> None:
        sb = self.books[symbol]
        sb.venue_seq = venue_seq
        recv = time.time_ns()
        book, prices, qtys = sb.book, sb.prices, sb.qtys
        to_price, to_qty = prices.to_int, qtys.to_int
        book.apply_many(True, [(to_price(p), to_qty(q)) for p, q in bids])
        book.apply_many(False, [(to_price(p), to_qty(q)) for p, q in asks])
        self.deltas_applied += len(bids) + len(asks)
        self.last_frame_ns = recv
        sb.seq += 1
        sb.exchange_ts, sb.recv_ts = exchange_ms * 1_000_000, recv
        ts = pb.Timestamps(exchange_ts=sb.exchange_ts, edge_recv_ts=recv)
        if self.hub.subscriptions:
            delta = pb.BookDelta(symbol=symbol, book_seq=sb.seq, ts=ts, venue_seq=venue_seq,
                                 bids=[pb.Level(price=p, qty=q) for p, q in bids],
                                 asks=[pb.Level(price=p, qty=q) for p, q in asks])
            self.hub.publish(symbol, pb.MarketData(venue=self.venue, delta=delta))
        self._publish_bbo_if_changed(symbol, sb)
        if self.algo_hook is not None:
            self.algo_hook(symbol)

    def on_trade(self, symbol: str, trade_id: str, price: str, qty: str, buyer_is_maker: bool,
                 exchange_ms: int) -> None:
        ts = pb.Timestamps(exchange_ts=exchange_ms * 1_000_000, edge_recv_ts=time.time_ns())
        trade = pb.Trade(symbol=symbol, trade_id=trade_id, price=price, qty=qty,
                         aggressor=pb.SELL if buyer_is_maker else pb.BUY, ts=ts)
        self.hub.publish(symbol, pb.MarketData(venue=self.venue, trade=trade))

    def mark_unsynced(self, symbol: str) -> None:
        self.books[symbol].synced = False

    # -- views -----------------------------------------------------------------------------

    @staticmethod
    def _level(sb: _SymbolBook, level: Sequence[str]) -> tuple[int, int]:
        return sb.prices.to_int(level[0]), sb.qtys.to_int(level[1])

    def _publish_bbo_if_changed(self, symbol: str, sb: _SymbolBook) -> None:
        book = sb.book
        top = (book.best_bid, book.best_bid_qty, book.best_ask, book.best_ask_qty)
        if top != sb.top:
            sb.top = top
            self.hub.publish(symbol, pb.MarketData(venue=self.venue, bbo=self.bbo_of(symbol)))

    def bbo_of(self, symbol: str) -> pb.Bbo:
        sb = self.books[symbol]
        b = sb.book
        bbo = pb.Bbo(symbol=symbol, book_seq=sb.seq,
                     ts=pb.Timestamps(exchange_ts=sb.exchange_ts, edge_recv_ts=sb.recv_ts))
        if b.best_bid_qty:
            bbo.bid_price, bbo.bid_qty = sb.prices.to_str(b.best_bid), sb.qtys.to_str(b.best_bid_qty)
        if b.best_ask_qty:
            bbo.ask_price, bbo.ask_qty = sb.prices.to_str(b.best_ask), sb.qtys.to_str(b.best_ask_qty)
        return bbo

    def snapshot_of(self, symbol: str, depth: int | None = None) -> pb.BookSnapshot:
        sb = self.books[symbol]
        n = depth or self.snapshot_depth

        def levels(is_bid: bool) -> list[pb.Level]:
            return [pb.Level(price=sb.prices.to_str(p), qty=sb.qtys.to_str(q)) for p, q in sb.book.levels(is_bid, n)]

        return pb.BookSnapshot(symbol=symbol, book_seq=sb.seq, bids=levels(True), asks=levels(False),
                               venue_seq=sb.venue_seq,
                               ts=pb.Timestamps(exchange_ts=sb.exchange_ts, edge_recv_ts=sb.recv_ts))

    def snapshots(self) -> list[pb.MarketData]:
        out = []
        for symbol, sb in self.books.items():
            if sb.synced:
                out.append(pb.MarketData(venue=self.venue, snapshot=self.snapshot_of(symbol)))
                out.append(pb.MarketData(venue=self.venue, bbo=self.bbo_of(symbol)))
        for more in self.extra_snapshots:
            out.extend(more())
        return out
