"""Market-data aggregator: every venue's book and trades, the NBBO and the unified book.

Edges stream snapshots, contiguous deltas, BBOs and trades; each item is stamped with
`cc_proc_ts` here, completing the triple timestamp chain. A venue whose feed stops (or whose
edge disconnects, or whose book sequence breaks) is stale: shown as such, and left out of
the NBBO and of routing until it recovers.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from seqmesh.runtime.book.l2 import L2Book
from seqmesh.runtime.book.numbers import DecimalScale
from seqmesh.runtime.proto import edge_pb2 as pb

from .bus import BookChanged, Bus, TradePrinted
from .pools import PoolStates

ZERO = Decimal(0)


@dataclass
class VenueBook:
    venue: str
    symbol: str
    region: str
    remote: bool
    prices: DecimalScale
    qtys: DecimalScale
    book: L2Book = field(default_factory=L2Book)
    seq: int = 0
    synced: bool = False
    exchange_ts: int = 0
    edge_recv_ts: int = 0
    cc_proc_ts: int = 0
    peer_recv_ts: int = 0  # mirrored from another region: when this CC received it
    last_update: float = 0.0  # monotonic seconds
    connected: bool = True

    def level_at(self, is_bid: bool, i: int) -> tuple[Decimal, Decimal] | None:
        """Level i of a side, best first, as exact decimals."""
        b = self.book
        if is_bid:
            if i >= len(b.bid_prices):
                return None
            p = b.bid_prices[-1 - i]
            return self.prices.to_decimal(p), self.qtys.to_decimal(b.bids[p])
        if i >= len(b.ask_prices):
            return None
        p = b.ask_prices[i]
        return self.prices.to_decimal(p), self.qtys.to_decimal(b.asks[p])

    def best(self) -> tuple[Decimal | None, Decimal, Decimal | None, Decimal]:
        b = self.book
        bid = self.prices.to_decimal(b.best_bid) if b.best_bid_qty else None
        ask = self.prices.to_decimal(b.best_ask) if b.best_ask_qty else None
        return bid, self.qtys.to_decimal(b.best_bid_qty), ask, self.qtys.to_decimal(b.best_ask_qty)


class MarketData:
    def __init__(self, stale_after_s: float, bus: Bus | None = None, trades_kept: int = 1000) -> None:
        self.stale_after_s = stale_after_s
        self.books: dict[tuple[str, str], VenueBook] = {}
        self.trades: dict[str, deque[dict[str, Any]]] = {}
        self.trades_kept = trades_kept
        self.items = 0
        self.gaps = 0
        self._by_symbol: dict[str, list[VenueBook]] = {}
        #: BookChanged after each applied book update, TradePrinted for each trade
        self.bus = bus or Bus()
        #: AMM pools and their chains' gas, for the router (a DEX venue's book is a picture of its curve)
        self.pools = PoolStates(stale_after_s)

    # -- wiring ----------------------------------------------------------------------------

    def register(self, venue: str, region: str, remote: bool, instruments: list[pb.Instrument]) -> None:
        self.pools.register(venue, region, remote)
        for inst in instruments:
            key = (venue, inst.symbol)
            if key not in self.books:
                self.books[key] = VenueBook(venue, inst.symbol, region, remote, DecimalScale(inst.tick),
                                            DecimalScale(inst.lot))
                self._by_symbol[inst.symbol] = sorted(
                    (vb for (_, s), vb in self.books.items() if s == inst.symbol), key=lambda vb: vb.venue)

    def set_connected(self, venue: str, connected: bool) -> None:
        self.pools.set_connected(venue, connected)
        for (v, _), vb in self.books.items():
            if v == venue:
                vb.connected = connected
                if not connected:
                    vb.synced = False

    # -- input -----------------------------------------------------------------------------

    def on_item(self, item: pb.MarketData) -> None:
        now = time.time_ns()
        self.items += 1
        kind = item.WhichOneof("item")
        if kind == "delta":
            d = item.delta
            vb = self.books.get((item.venue, d.symbol))
            if vb is None or not vb.synced:
                return
            if d.book_seq != vb.seq + 1:
                vb.synced = False  # a gap: the link will resubscribe for a fresh snapshot
                self.gaps += 1
                return
            to_p, to_q = vb.prices.to_int, vb.qtys.to_int
            vb.book.apply_many(True, [(to_p(lv.price), to_q(lv.qty)) for lv in d.bids])
            vb.book.apply_many(False, [(to_p(lv.price), to_q(lv.qty)) for lv in d.asks])
            self._stamp(vb, d.book_seq, d.ts, now)
            self.bus.publish(BookChanged(d.symbol))
        elif kind == "snapshot":
            s = item.snapshot
            vb = self.books.get((item.venue, s.symbol))
            if vb is None:
                return
            to_p, to_q = vb.prices.to_int, vb.qtys.to_int
            vb.book.load_snapshot([(to_p(lv.price), to_q(lv.qty)) for lv in s.bids],
                                  [(to_p(lv.price), to_q(lv.qty)) for lv in s.asks])
            vb.synced = True
            self._stamp(vb, s.book_seq, s.ts, now)
            self.bus.publish(BookChanged(s.symbol))
        elif kind == "trade":
            t = item.trade
            ring = self.trades.setdefault(t.symbol, deque(maxlen=self.trades_kept))
            ring.append({"venue": item.venue, "symbol": t.symbol, "trade_id": t.trade_id, "price": t.price,
                         "qty": t.qty, "side": "buy" if t.aggressor == pb.BUY else "sell",
                         "ts": {"exchange_ts": t.ts.exchange_ts, "edge_recv_ts": t.ts.edge_recv_ts,
                                "cc_proc_ts": t.ts.cc_proc_ts if t.ts.peer_recv_ts else now,
                                **({"peer_recv_ts": t.ts.peer_recv_ts} if t.ts.peer_recv_ts else {})}})
            vb = self.books.get((item.venue, t.symbol))
            if vb is not None:
                vb.last_update = time.monotonic()
            if self.bus.has_subscribers(TradePrinted):
                self.bus.publish(TradePrinted(item.venue, t.symbol, Decimal(t.price), Decimal(t.qty),
                                              t.ts.exchange_ts or now))
        elif kind == "pool":
            self.pools.on_pool(item.venue, item.pool)
            self.bus.publish(BookChanged(item.pool.symbol))
        elif kind == "gas":
            self.pools.on_gas(item.venue, item.gas)
            # A block came: a DEX venue's book (its pools' curves) is current as of it, swaps or not.
            mono = time.monotonic()
            for (v, _), vb in self.books.items():
                if v == item.venue:
                    vb.last_update = mono
        # BBO items carry nothing the book does not already have here.

    @staticmethod
    def _stamp(vb: VenueBook, seq: int, ts: pb.Timestamps, now: int) -> None:
        vb.seq = seq
        vb.exchange_ts, vb.edge_recv_ts = ts.exchange_ts, ts.edge_recv_ts
        # A mirrored item keeps its home CC's processing time; ours is the peer receive time.
        vb.cc_proc_ts, vb.peer_recv_ts = ts.cc_proc_ts or now, ts.peer_recv_ts
        vb.last_update = time.monotonic()

    # -- views -----------------------------------------------------------------------------

    def is_stale(self, vb: VenueBook) -> bool:
        if not (vb.connected and vb.synced):
            return True
        if time.monotonic() - vb.last_update <= self.stale_after_s:
            return False
        gas = self.pools.gas(vb.venue)  # a chain's blocks may come slower than the staleness limit
        return gas is None or not self.pools.is_live(vb.venue)

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    def venue_books(self, symbol: str, live_only: bool = False) -> list[VenueBook]:
        out = self._by_symbol.get(symbol, [])
        return [vb for vb in out if not self.is_stale(vb)] if live_only else list(out)

    def fee_rate(self, asset: str, quote: str) -> Decimal | None:
        """What one `asset` (a fee's, e.g. a chain's gas token) is worth in `quote` now: this
        region's mid of asset/quote, else a DEX chain's own price of its native token."""
        mid = self.mid(f"{asset}/{quote}")
        if mid is not None:
            return mid
        for chain in self.pools.chains():
            g = chain.gas
            if g.native_symbol == asset and g.native_price and g.price_symbol.split("/")[-1] == quote:
                return Decimal(g.native_price)
        return None

    def best(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """Best bid and ask across live venues (the hot path's NBBO, without the report)."""
        bid: Decimal | None = None
        ask: Decimal | None = None
        for vb in self._by_symbol.get(symbol, ()):
            if self.is_stale(vb):
                continue
            b = vb.book
            if b.best_bid_qty:
                p = vb.prices.to_decimal(b.best_bid)
                if bid is None or p > bid:
                    bid = p
            if b.best_ask_qty:
                p = vb.prices.to_decimal(b.best_ask)
                if ask is None or p < ask:
                    ask = p
        return bid, ask

    def bbo(self, symbol: str) -> list[dict[str, Any]]:
        rows = []
        for vb in self.venue_books(symbol):
            bid, bid_qty, ask, ask_qty = vb.best()
            rows.append({
                "venue": vb.venue, "region": vb.region, "remote": vb.remote, "symbol": symbol,
                "bid": None if bid is None else str(bid), "bid_qty": str(bid_qty),
                "ask": None if ask is None else str(ask), "ask_qty": str(ask_qty),
                "bid_f": None if bid is None else float(bid), "ask_f": None if ask is None else float(ask),
                "bid_qty_f": float(bid_qty), "ask_qty_f": float(ask_qty),
                "stale": self.is_stale(vb), "book_seq": vb.seq,
                "ts": {"exchange_ts": vb.exchange_ts, "edge_recv_ts": vb.edge_recv_ts, "cc_proc_ts": vb.cc_proc_ts,
                       **({"peer_recv_ts": vb.peer_recv_ts} if vb.remote else {})},
            })
        return rows

    def _top(self, symbol: str) -> tuple[tuple[Decimal, Decimal, str] | None, tuple[Decimal, Decimal, str] | None]:
        best_bid: tuple[Decimal, Decimal, str] | None = None
        best_ask: tuple[Decimal, Decimal, str] | None = None
        for vb in self.venue_books(symbol, live_only=True):
            bid, bid_qty, ask, ask_qty = vb.best()
            if bid is not None and (best_bid is None or bid > best_bid[0]):
                best_bid = (bid, bid_qty, vb.venue)
            if ask is not None and (best_ask is None or ask < best_ask[0]):
                best_ask = (ask, ask_qty, vb.venue)
        return best_bid, best_ask

    def top(self, symbol: str) -> tuple[Decimal | None, Decimal, str, Decimal | None, Decimal, str]:
        """NBBO as (bid, bid qty, bid venue, ask, ask qty, ask venue); None prices where a side is empty."""
        b, a = self._top(symbol)
        return (b[0] if b else None, b[1] if b else Decimal(0), b[2] if b else "",
                a[0] if a else None, a[1] if a else Decimal(0), a[2] if a else "")

    def nbbo(self, symbol: str) -> dict[str, Any]:
        best_bid, best_ask = self._top(symbol)
        mid = (best_bid[0] + best_ask[0]) / 2 if best_bid and best_ask else None
        return {
            "symbol": symbol,
            "bid": None if best_bid is None else {"price": str(best_bid[0]), "qty": str(best_bid[1]),
                                                  "venue": best_bid[2], "price_f": float(best_bid[0])},
            "ask": None if best_ask is None else {"price": str(best_ask[0]), "qty": str(best_ask[1]),
                                                  "venue": best_ask[2], "price_f": float(best_ask[0])},
            "mid": None if mid is None else str(mid),
            "spread_bps": None if mid is None or best_bid is None or best_ask is None
            else str(((best_ask[0] - best_bid[0]) / mid * 10_000).quantize(Decimal("0.001"))),
            "crossed": bool(best_bid and best_ask and best_bid[0] >= best_ask[0]),
            "venues": [vb.venue for vb in self.venue_books(symbol, live_only=True)],
            "stale_venues": [vb.venue for vb in self.venue_books(symbol) if self.is_stale(vb)],
            "cc_proc_ts": time.time_ns(),
        }

    def mid(self, symbol: str) -> Decimal | None:
        bid, ask = self.best(symbol)
        return None if bid is None or ask is None else (bid + ask) / 2

    def unified(self, symbol: str, depth: int) -> dict[str, Any]:
        sides: dict[str, list[dict[str, Any]]] = {}
        for name, is_bid in (("bids", True), ("asks", False)):
            merged: dict[Decimal, dict[str, Decimal]] = {}
            for vb in self.venue_books(symbol, live_only=True):
                for i in range(depth):
                    lvl = vb.level_at(is_bid, i)
                    if lvl is None:
                        break
                    merged.setdefault(lvl[0], {})[vb.venue] = lvl[1]
            prices = sorted(merged, reverse=is_bid)[:depth]
            sides[name] = [{"price": str(p), "qty": str(sum(merged[p].values(), ZERO)), "price_f": float(p),
                            "venues": {v: str(q) for v, q in sorted(merged[p].items())}} for p in prices]
        return {"symbol": symbol, "depth": depth, **sides, "cc_proc_ts": time.time_ns()}
