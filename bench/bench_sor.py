"""Smart-order-router decision latency with 10 venues (p50/p99), beside a naive baseline; and
with 5 AMM pools added (one per EVM chain, on their exact curves, with gas and confirmation
time), beside the CEX-only decision in the same run, with the routed cost of a large order
with and without the pools (bps over the arrival mid).

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
from seqmesh.runtime.cc.routing.amm import PoolCurve
from seqmesh.runtime.cc.routing.sor import Route, Router, VenueCandidate
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.sim import binance_format as fmt
from seqmesh.runtime.venues.sim.config import VenueSettings
from seqmesh.runtime.venues.sim.flow import SyntheticFlow
from seqmesh.runtime.venues.sim.instruments import CATALOGUE
from seqmesh.runtime.venues.sim.matching import Fees, MatchingEngine

SYMBOL = "BTC/USDT"
VENUES = ["binance", "kraken", "coinbase", "okx", "bybit", "bitget", "cryptocom", "bitmart", "hyperliquid",
          "gate"]
#: (chain, pool's price offset in bps, gas per swap in USDT, confirmation ms): one V2 pool each
POOLS = [("ethereum", -3, "4.0", 24_000.0), ("arbitrum", 2, "0.02", 250.0), ("base", -1, "0.01", 2_000.0),
         ("optimism", 4, "0.01", 2_000.0), ("polygon", 0, "0.005", 2_000.0)]


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


def build_pools(mid: Decimal, base_btc: int = 100) -> list[VenueCandidate]:
    """WBTC/USDT pools (8 and 6 decimals) of `base_btc` each, priced around `mid`."""
    out = []
    for chain, offset_bps, gas, confirm_ms in POOLS:
        price = mid * (1 + Decimal(offset_bps) / 10_000)
        curve = PoolCurve(base_btc * 10**8, int(price * base_btc * 10**6), 8, 6, Decimal(gas), f"0x{chain}")
        lot = Decimal("0.00000001")
        out.append(VenueCandidate(f"dex-{chain}", lambda i: None, Decimal(0), Decimal(0), 0.3, lot, lot, Decimal(0),
                                  Decimal("0.000001"), balance_cap=Decimal(5_000_000), extra_latency_ms=confirm_ms,
                                  curve=curve))
    return out


def routed_bps(route: Route, mid: Decimal) -> float:
    """What the route costs over the arrival mid, fees, gas and latency in, in bps of the notional."""
    taking = [a for a in route.allocations if not a.resting]
    cost = sum((a.net(Side.BUY) for a in taking), Decimal(0))
    qty = sum((a.qty for a in taking), Decimal(0))
    return float((cost / qty - mid) / mid * 10_000)


def timed(router: Router, sizes: list[Decimal], cands: list[VenueCandidate]) -> list[float]:
    out = []
    for q in sizes:
        t0 = time.perf_counter_ns()
        router.route(Side.BUY, q, cands)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def with_pools(router: Router, cands: list[VenueCandidate], sizes: list[Decimal]) -> dict[str, Any]:
    bids, asks = cands[0].level_at(0), None
    md_mid = None
    for c in cands:
        top = c.level_at(0)
        if top is not None and (asks is None or top[0] < asks[0]):
            asks = top
    assert asks is not None and bids is not None
    md_mid = asks[0]  # priced off the best ask: the pools sit around where buyers take
    pools = build_pools(md_mid)
    both = cands + pools
    cex, pooled = [], []
    for _ in range(2):  # alternate, twice: the machine's noise falls on both alike
        cex += timed(router, sizes, cands)
        pooled += timed(router, sizes, both)
    large: dict[str, dict[str, Any]] = {}
    for size in ("10", "50", "80", "100"):  # the books hold ~91 BTC within 40 bps
        r_cex, r_both = router.route(Side.BUY, Decimal(size), cands), router.route(Side.BUY, Decimal(size), both)
        large[size] = {
            "cost_bps_cex_only": round(routed_bps(r_cex, md_mid), 2), "unfilled_cex_only": str(r_cex.unallocated),
            "cost_bps_with_pools": round(routed_bps(r_both, md_mid), 2), "unfilled_with_pools": str(r_both.unallocated),
            "pools_used": {a.venue: str(a.qty) for a in r_both.allocations if a.pool_mid is not None}}
    return {
        "cex_venues": len(cands), "pools": len(pools), "decisions": len(sizes) * 2,
        "with_pools_p50_us": round(statistics.median(pooled), 1),
        "with_pools_p99_us": round(percentile(pooled, 99), 1),
        "cex_only_p50_us": round(statistics.median(cex), 1), "cex_only_p99_us": round(percentile(cex, 99), 1),
        "ratio_p50_with_pools_vs_cex_only": round(statistics.median(pooled) / statistics.median(cex), 2),
        "large_buys_btc": large,
    }


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
        "pools": with_pools(router, cands, sizes[:1000]),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
