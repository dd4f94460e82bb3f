"""A pool event reaching the CC's NBBO and router, beside the CEX book path in the same run.

Real processes: an anvil (arbitrum, automine) with the V2 market and its DEX edge, a simulated
CEX (binance) with its edge, and a CC. Seeded traders swap (one swap a round, mined at once);
after each swap in a USDT pool the bench waits for the CC to show that pool at the swap's block
(`GET /v1/pools`) and reads the timestamps the CC kept:
- edge -> CC (cc_proc_ts - edge_recv_ts): the same hop a CEX book update takes, sampled from
  `GET /v1/bbo` in the same rounds (the baseline);
- swap sent -> CC (cc_proc_ts - the wall clock before the swap was sent): mining, the edge
  seeing the block and reading the pool, and the hop.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.runtime.venues.chain.flow import SwapFlow

from seqmesh.client.api import CCClient
from seqmesh.testing.dex import book_and_pool_region
from seqmesh.testing.processes import wait_until

SYMBOLS = {("WBTC", "USDT"): "BTC/USDT", ("WETH", "USDT"): "ETH/USDT"}


def _ms(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"p50_ms": round(statistics.median(xs), 3), "p99_ms": round(xs[min(len(xs) - 1, int(len(xs) * 0.99))], 3),
            "n": len(xs)}


def run(rounds: int = 80) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-pool-feed-"))
    with book_and_pool_region(tmp) as (api, arb, _):
        flow = SwapFlow(arb.w3, arb.d, seed=5)
        flow.fund()
        pool_hop, sent_to_cc, cex_hop = [], [], []
        seen_books: set[int] = set()
        with CCClient(api) as c:
            wait_until(lambda: sum(p["live"] for p in c.request("GET", "/v1/pools")) == 2, 60, what="pools live")
            for _ in range(rounds):
                sent = time.time_ns()
                rec = flow.step()
                for row in c.bbo("BTC/USDT"):
                    ts = row["ts"]
                    if row["venue"] == "binance" and row["book_seq"] not in seen_books and ts["edge_recv_ts"]:
                        seen_books.add(row["book_seq"])
                        cex_hop.append((ts["cc_proc_ts"] - ts["edge_recv_ts"]) / 1e6)
                if rec is None or rec.pair not in SYMBOLS:
                    continue
                symbol = SYMBOLS[rec.pair]
                box: dict[str, Any] = {}

                def shown(s: str = symbol, block: int = rec.block, box: dict[str, Any] = box) -> bool:
                    box["p"] = next(p for p in c.request("GET", "/v1/pools") if p["symbol"] == s)
                    return bool(box["p"]["block"] >= block)

                wait_until(shown, 30, interval=0.002, what=f"{symbol} at block {rec.block} at the CC")
                ts = box["p"]["ts"]
                pool_hop.append((ts["cc_proc_ts"] - ts["edge_recv_ts"]) / 1e6)
                sent_to_cc.append((ts["cc_proc_ts"] - sent) / 1e6)
    return {
        "rounds": rounds, "chain": "arbitrum (automine)",
        "pool_edge_to_cc": _ms(pool_hop), "cex_book_edge_to_cc": _ms(cex_hop),
        "ratio_p50_pool_vs_cex_hop": round(statistics.median(pool_hop) / statistics.median(cex_hop), 2),
        "pool_swap_sent_to_cc": _ms(sent_to_cc),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
