"""Uniswap V2 pools on a real anvil (automine): the exact pool math in process against the
same quote asked of Router02 over JSON-RPC (the baseline, same run, same reserves), a
reserves read, a swap's sign-send-receipt round trip, and the time to deploy a chain's market."""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

from seqmesh.runtime.dex.chains import chain
from seqmesh.runtime.dex.v2math import get_amounts_out
from seqmesh.runtime.venues.chain.anvil import Anvil
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import ETHER, deploy_v2
from seqmesh.runtime.venues.chain.flow import SwapFlow
from seqmesh.runtime.venues.chain.pools import get_reserves


def _us(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_us": round(statistics.median(ordered) * 1e6, 1),
            "p99_us": round(ordered[int(len(ordered) * 0.99) - 1] * 1e6, 1), "n": len(ordered)}


def _timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run() -> dict[str, Any]:
    with Anvil(chain("arbitrum"), automine=True) as node:
        w3 = node.w3
        t0 = time.perf_counter()
        market = deploy_v2(w3, seed=1)
        deploy_s = time.perf_counter() - t0
        symbols = ["WETH", "USDC", "WBTC"]
        path = [market.token(s).address for s in symbols]
        hops = [get_reserves(w3, market.pair(a, b)).oriented(market.pair(a, b), market.token(a).address)
                for a, b in itertools.pairwise(symbols)]
        router = at(w3, "UniswapV2Router02", market.router)
        amount = 3 * ETHER
        assert get_amounts_out(amount, hops) == router.functions.getAmountsOut(amount, path).call()
        ours = _timed(lambda: get_amounts_out(amount, hops), 5000)
        rpc = _timed(lambda: router.functions.getAmountsOut(amount, path).call(), 300)
        pair = market.pair("WETH", "USDC")
        reads = _timed(lambda: get_reserves(w3, pair), 300)
        flow = SwapFlow(w3, market, seed=1)
        flow.fund()
        steps = _timed(flow.step, 50)
    quote, baseline = _us(ours), _us(rpc)
    return {
        "deploy_market_s": round(deploy_s, 3),
        "quote_2hop_v2math": quote,
        "quote_2hop_router_eth_call": baseline,
        "router_call_over_v2math_p50": round(baseline["p50_us"] / quote["p50_us"], 1),
        "get_reserves_read": _us(reads),
        "flow_step_swap_mined": _us(steps),
    }
