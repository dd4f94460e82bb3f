"""Raw WebSocket frame -> applied local book, through the edge's real path.

Frames are real diff-depth frames recorded from the simulator's engine and stream hub
(seeded flow). Each is decoded and handed to `TappedBinance.handle_message`, i.e. ccxt.pro's
own binance handler (sequencing, its book) plus the edge's tap into the exact local book and
market-data hub. The baseline, measured in the same run on the same frames, is stock
ccxt.pro binance without the tap: the ratio is what the edge's book costs on top of ccxt.
Goal: >= 100,000 deltas/s.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxt_pro
from seqmesh.runtime.edge.feed import BookFeed
from seqmesh.runtime.edge.gateway import InstrumentSpec
from seqmesh.runtime.edge.hub import MarketDataHub
from seqmesh.runtime.edge.stream import TappedBinance
from seqmesh.runtime.venues.sim import binance_format as fmt
from seqmesh.runtime.venues.sim.config import FlowSettings, VenueSettings
from seqmesh.runtime.venues.sim.flow import SyntheticFlow
from seqmesh.runtime.venues.sim.instruments import CATALOGUE
from seqmesh.runtime.venues.sim.matching import Fees, LevelChange, MatchingEngine

SYMBOL = "BTC/USDT"


class _Client:
    """The parts of ccxt's WebSocket client the binance handlers touch."""

    url = "ws://127.0.0.1/stream/0"

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {}

    def resolve(self, result: Any, message_hash: str) -> None:
        pass


def record_frames(steps: int, seed: int = 3) -> tuple[str, list[str], int]:
    """(snapshot JSON, diff frames as JSON text, total level updates) from the simulator."""
    inst = CATALOGUE[SYMBOL]
    engine = MatchingEngine([inst], Fees(), clock_ms=lambda: 1_700_000_000_000)
    flow = SyntheticFlow(engine, VenueSettings(symbols=[SYMBOL], seed=seed, flow=FlowSettings(depth=100)))
    for _ in range(5):
        flow.step()
    update_id, bids, asks = engine.depth(SYMBOL)
    snapshot = json.dumps({"lastUpdateId": update_id, "bids": [[fmt.num(p), fmt.num(q)] for p, q in bids],
                           "asks": [[fmt.num(p), fmt.num(q)] for p, q in asks]})
    pending: list[LevelChange] = []
    engine.book_listeners.append(pending.append)
    frames, levels = [], 0
    for _ in range(steps):
        flow.step()
        if pending:
            event = fmt.depth_event(inst, pending, 1_700_000_000_000)
            levels += len(event["b"]) + len(event["a"])
            frames.append(json.dumps(event))
            pending.clear()
    return snapshot, frames, levels


def _exchange(tapped: bool) -> tuple[Any, BookFeed | None]:
    cls = TappedBinance if tapped else ccxt_pro.binance
    ex = cls({"options": {"fetchMarkets": {"types": ["spot"]}}})
    inst = CATALOGUE[SYMBOL]
    ex.set_markets([{
        "id": inst.venue_id, "symbol": SYMBOL, "base": inst.base, "quote": inst.quote, "baseId": inst.base,
        "quoteId": inst.quote, "lowercaseId": inst.venue_id.lower(), "type": "spot", "spot": True, "margin": False,
        "swap": False, "future": False, "option": False, "contract": False, "active": True,
        "precision": {"price": float(inst.tick), "amount": float(inst.lot)}, "limits": {}, "info": {},
    }])
    feed = None
    if tapped:
        spec = InstrumentSpec(SYMBOL, inst.tick, inst.lot, inst.min_qty, inst.min_notional)
        hub = MarketDataHub("binance")
        hub.subscribe(frozenset(), lambda: [])  # one subscriber, so deltas are built and queued
        hub.maxsize = 10**9
        for sub in hub.subscriptions:
            sub.queue = asyncio.Queue()
        feed = BookFeed("binance", {SYMBOL: spec}, hub)
        ex.feed = feed
    return ex, feed


def _run_once(tapped: bool, snapshot: str, frames: list[str]) -> float:
    ex, feed = _exchange(tapped)
    snap = json.loads(snapshot)
    book = ex.order_book({}, 1000)
    book.reset(ex.parse_order_book(snap, SYMBOL))
    book["nonce"] = snap["lastUpdateId"]
    book["timestamp"] = 1
    ex.orderbooks[SYMBOL] = book
    if feed is not None:
        feed.on_snapshot(SYMBOL, snap["bids"], snap["asks"], 1, snap["lastUpdateId"])
    client = _Client()
    start = time.perf_counter()
    for text in frames:
        ex.handle_message(client, json.loads(text))
    elapsed = time.perf_counter() - start
    if feed is not None:  # the tapped book must agree with ccxt's after every frame
        local = feed.books[SYMBOL].book
        best_bid = book["bids"][0][0]
        assert Decimal(str(best_bid)) == feed.books[SYMBOL].prices.to_decimal(local.best_bid)
    return elapsed


def run(steps: int = 4000, repeats: int = 3) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        snapshot, frames, levels = record_frames(steps)
        tapped = min(_run_once(True, snapshot, frames) for _ in range(repeats))
        stock = min(_run_once(False, snapshot, frames) for _ in range(repeats))
        return {
            "frames": len(frames),
            "deltas": levels,
            "deltas_per_s": round(levels / tapped),
            "baseline_stock_ccxt_deltas_per_s": round(levels / stock),
            "ratio_vs_stock_ccxt": round(stock / tapped, 3),
            "us_per_frame": round(tapped / len(frames) * 1e6, 2),
            "goal_deltas_per_s": 100_000,
        }

    return asyncio.run(go())


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
