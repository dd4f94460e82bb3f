"""Smart-order-router decision latency with 10 venues (p50/p99), beside a naive baseline.

Each venue's book comes from the simulator's engine (seeded flow, different offsets), loaded
into the CC's market-data structures; a decision is `Router.route` for one order: the merged
walk, the split, the single-venue alternatives and the explanation. The baseline, measured in
the same run, collects every level of every venue, sorts by effective price and walks it.
Goals: p50 <= 100 us, p99 <= 300 us.
"""

from __future__ import annotations

import functools
import json
import random
import statistics
import time
from decimal import Decimal
from typing import Any

from seqmesh.runtime.cc.domain import Side
from seqmesh.runtime.cc.marketdata import MarketData
from seqmesh.runtime.cc.routing.sor import Router, VenueCandidate
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.sim import binance_format as fmt
from seqmesh.runtime.venues.sim.config import VenueSettings
from seqmesh.runtime.venues.sim.flow import SyntheticFlow
from seqmesh.runtime.venues.sim.instruments import CATALOGUE
from seqmesh.runtime.venues.sim.matching import Fees, MatchingEngine

SYMBOL = "BTC/USDT"
VENUES = ["binance", "kraken", "coinbase", "okx", "bybit", "bitget", "cryptocom", "bitmart", "hyperliquid",
          "dex-arbitrum"]


def build_market(n_venues: int = 10) -> tuple[MarketData, list[VenueCandidate]]:
    md = MarketData(stale_after_s=60)
    inst = CATALOGUE[SYMBOL]
    cands = []
    for i, venue in enumerate(VENUES[:n_venues]):
        engine = MatchingEngine([inst], Fees())
        flow = SyntheticFlow(engine, VenueSettings(symbols=[SYMBOL], seed=100 + i,
                                                   price_offset_bps=Decimal(i % 5) - 2))
        for _ in range(30):
            flow.step()
        _, bids, asks = engine.depth(SYMBOL)
        md.register(venue, "ap", False, [pb.Instrument(symbol=SYMBOL, tick=str(inst.tick), lot=str(inst.lot))])
        md.on_item(pb.MarketData(venue=venue, snapshot=pb.BookSnapshot(
            symbol=SYMBOL, book_seq=1, bids=[pb.Level(price=fmt.num(p), qty=fmt.num(q)) for p, q in bids],
            asks=[pb.Level(price=fmt.num(p), qty=fmt.num(q)) for p, q in asks])))
        vb = md.books[(venue, SYMBOL)]
        cands.append(VenueCandidate(venue, functools.partial(vb.level_at, False), Decimal("0.001") + i * Decimal(
            "0.0001"), Decimal("0.0008"), 0.3 + i * 0.1, inst.lot, inst.min_qty, inst.min_notional, inst.tick,
            balance_cap=Decimal(5_000_000)))
    return md, cands


def naive(side: Side, qty: Decimal, cands: list[VenueCandidate]) -> dict[str, Decimal]:
    levels = []
    for c in cands:
        i = 0
        while (lvl := c.level_at(i)) is not None:
            levels.append((lvl[0] * (1 + c.taker_fee), c.venue, lvl[1]))
            i += 1
    levels.sort()
    out: dict[str, Decimal] = {}
    left = qty
    for _, venue, avail in levels:
        take = min(avail, left)
        out[venue] = out.get(venue, Decimal(0)) + take
        left -= take
        if left <= 0:
            break
    return out


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def run(decisions: int = 3000) -> dict[str, Any]:
    _, cands = build_market()
    router = Router(Decimal("0.02"))
    rng = random.Random(9)
    sizes = [Decimal(rng.choice(["0.01", "0.05", "0.3", "1", "2.5", "6"])) for _ in range(decisions)]
    for q in sizes[:200]:  # warm up
        router.route(Side.BUY, q, cands)
    ours, base = [], []
    for q in sizes:
        t0 = time.perf_counter_ns()
        route = router.route(Side.BUY, q, cands)
        ours.append((time.perf_counter_ns() - t0) / 1000)
        t0 = time.perf_counter_ns()
        naive(Side.BUY, q, cands)
        base.append((time.perf_counter_ns() - t0) / 1000)
        assert route.unallocated == 0
    split = router.route(Side.BUY, Decimal("6"), cands)
    return {
        "venues": len(cands), "decisions": decisions,
        "p50_us": round(statistics.median(ours), 1), "p99_us": round(percentile(ours, 99), 1),
        "baseline_naive_sort_p50_us": round(statistics.median(base), 1),
        "baseline_naive_sort_p99_us": round(percentile(base, 99), 1),
        "ratio_p50_vs_naive": round(statistics.median(base) / statistics.median(ours), 2),
        "venues_used_for_6_btc": len(split.allocations),
        "goal": {"p50_us": 100, "p99_us": 300},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
