"""REST submit to fill acknowledgement on loopback, zero simulated venue latency.

A real region (three simulators, their edges, a CC) is started; market orders of 0.001 BTC
alternate buy/sell one at a time. Per order: POST /v1/orders until its response (the CC has
routed, written the ledger, and the edge has the venue's answer), and until the fill is
booked in the CC's ledger (the response carries it; polled otherwise). Baseline in the same
run: the same market order sent straight to a simulator with ccxt (the venue round trip
alone). Then again with `--durability process-crash` on the CC and edges (no fsync per
commit). Goal: submit -> fill p50 <= 3 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.runtime.edge.exchange import make_exchange

from seqmesh.client.api import CCClient
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 3)


async def venue_baseline(url: str, n: int) -> list[float]:
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    await ex.load_markets()
    out = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            await ex.create_order("BTC/USDT", "market", "buy" if i % 2 else "sell", "0.001")
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        await ex.close()
    return out


def measure(region: Region, n: int) -> tuple[list[float], list[float]]:
    with CCClient(region.api) as c:
        wait_until(lambda: sum(not b["stale"] for b in c.bbo("BTC/USDT")) == 3, 30, what="live venues")
        response_ms, fill_ms = [], []
        for i in range(n):
            t0 = time.perf_counter()
            o = c.submit("BTC/USDT", "buy" if i % 2 else "sell", "0.001")
            response_ms.append((time.perf_counter() - t0) * 1000)
            while o["state"] != "filled":  # the response usually carries the booked fill already
                o = c.order(o["order_id"])
            fill_ms.append((time.perf_counter() - t0) * 1000)
    return response_ms, fill_ms


def run(n: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        region = Region(Path(tmp) / "full")
        try:
            response_ms, fill_ms = measure(region, n)
            baseline = asyncio.run(venue_baseline(next(iter(region.sims.values()))[1], n))
        finally:
            region.stop()
        # The same with commits that survive kill -9 but not a power cut (no fsync per commit).
        lax = ("--durability", "process-crash")
        region = Region(Path(tmp) / "process-crash", cc_args=lax, edge_args=lax)
        try:
            _, lax_fill_ms = measure(region, n)
        finally:
            region.stop()
    return {
        "orders": n,
        "submit_to_response_ms": {"p50": pct(response_ms, 50), "p99": pct(response_ms, 99)},
        "submit_to_fill_booked_ms": {"p50": pct(fill_ms, 50), "p99": pct(fill_ms, 99)},
        "submit_to_fill_booked_durability_process_crash_ms": {"p50": pct(lax_fill_ms, 50),
                                                              "p99": pct(lax_fill_ms, 99)},
        "baseline_ccxt_direct_to_venue_ms": {"p50": pct(baseline, 50), "p99": pct(baseline, 99)},
        "ratio_fill_p50_vs_direct_venue": round(statistics.median(fill_ms) / statistics.median(baseline), 2),
        "goal_fill_p50_ms": 3,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
