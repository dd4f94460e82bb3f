"""Uniswap V3 pools on a real anvil (automine): v3math's exact-input quote in process against
the same quote from QuoterV2 over JSON-RPC (the baseline, same run, same state), for a swap
inside one range and one that crosses initialized ticks; reading the pool's state by calls;
the router's V3 curve (built from that state, one exact amount); a V3 flow step; deploying V3."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bench_pools import _timed, _us  # type: ignore[import-not-found]  # loaded beside it by run.py
from seqmesh.runtime.cc.routing.amm_v3 import V3Curve
from seqmesh.runtime.dex import v3math
from seqmesh.runtime.dex.chains import chain
from seqmesh.runtime.venues.chain.anvil import Anvil
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import deploy_v2
from seqmesh.runtime.venues.chain.deploy_v3 import deploy_v3
from seqmesh.runtime.venues.chain.flow_v3 import V3SwapFlow
from seqmesh.runtime.venues.chain.pools_v3 import read_v3_pool


def run() -> dict[str, Any]:
    with Anvil(chain("arbitrum"), automine=True) as node:
        w3 = node.w3
        v2 = deploy_v2(w3, seed=1)
        t0 = time.perf_counter()
        v3 = deploy_v3(w3, v2)
        deploy_s = time.perf_counter() - t0
        pool = v3.pool("WBTC", "USDT")
        state, _ = read_v3_pool(w3, pool)
        sell = pool.token0 == v2.token("WBTC").address  # selling WBTC is zero-for-one when it is token0
        token_in, token_out = v2.token("WBTC").address, v2.token("USDT").address
        quoter = at(w3, "QuoterV2", v3.quoter).functions
        out: dict[str, Any] = {"deploy_v3_s": round(deploy_s, 3)}
        for name, wbtc in (("in_range", 10**7), ("crossing_ticks", 30 * 10**8)):
            crossed = v3math.swap(state, sell, wbtc).ticks_crossed
            expected = quoter.quoteExactInputSingle((token_in, token_out, wbtc, pool.fee, 0)).call()[0]
            assert v3math.quote_exact_input(state, sell, wbtc) == expected
            ours = _us(_timed(lambda w=wbtc: v3math.quote_exact_input(state, sell, w), 2000))
            rpc = _us(_timed(lambda w=wbtc: quoter.quoteExactInputSingle((token_in, token_out, w, pool.fee, 0)).call(),
                             200))
            out[f"quote_{name}"] = {"ticks_crossed": crossed, "v3math": ours, "quoter_v2_eth_call": rpc,
                                    "quoter_over_v3math_p50": round(rpc["p50_us"] / ours["p50_us"], 1)}
        out["read_state_calls"] = _us(_timed(lambda: read_v3_pool(w3, pool), 100))
        curve = lambda: V3Curve(state, sell, 8, 6, Decimal(0))  # noqa: E731
        out["router_curve_build"] = _us(_timed(curve, 500))
        built = curve()
        out["router_curve_amount_30btc"] = _us(_timed(lambda: built.amount(True, Decimal(30)), 1000))
        flow = V3SwapFlow(w3, v2, v3, seed=1)
        flow.fund()
        out["v3_flow_step_swap_mined"] = _us(_timed(flow.step, 40))
    return out
