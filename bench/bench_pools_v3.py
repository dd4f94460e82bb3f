"""Uniswap V3 pools on a real anvil (automine): v3math's exact-input quote in process against
the same quote from QuoterV2 over JSON-RPC (the baseline, same run, same state), for a swap
inside one range and one that crosses initialized ticks; reading the pool's state by calls;
the router's V3 curve (built from that state, one exact amount); a V3 flow step; deploying V3."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bench_pools import _timed, _us  # type: ignore[import-not-found]  # loaded beside it by run.py
from seqmesh.runtime.cc.domain import Side
from seqmesh.runtime.cc.routing.amm import PoolCurve
from seqmesh.runtime.cc.routing.amm_v3 import V3Curve
from seqmesh.runtime.cc.routing.sor import Router, VenueCandidate
from seqmesh.runtime.dex import v3math
from seqmesh.runtime.dex.chains import chain
from seqmesh.runtime.venues.chain.anvil import Anvil
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import V2Deployment, deploy_v2
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
        out["sor_decision_30btc_book_and_pool"] = _decisions(built, state, v2)
        flow = V3SwapFlow(w3, v2, v3, seed=1)
        flow.fund()
        out["v3_flow_step_swap_mined"] = _us(_timed(flow.step, 40))
    return out


def _decisions(v3_curve: V3Curve, state: v3math.V3PoolState, v2: V2Deployment) -> dict[str, Any]:
    """One router decision for a 30 BTC buy over a 50-level book and the V3 pool, against the same
    with a V2 pool as deep at the price (virtual reserves of the active liquidity), alternated."""
    lot = Decimal("0.00001")
    levels = [(Decimal(65010 + 5 * i), Decimal("0.5")) for i in range(50)]
    book = VenueCandidate("binance", lambda i: levels[i] if i < len(levels) else None, Decimal("0.001"),
                          Decimal("0.0008"), 0.0, lot, lot, Decimal(5), Decimal("0.01"))
    mid = v3_curve.mid
    base_raw = int(state.liquidity * 2**96 // state.sqrt_price_x96) if v3_curve.base_is_token0 \
        else int(state.liquidity * state.sqrt_price_x96 // 2**96)
    v2_curve = PoolCurve(base_raw, int(Decimal(base_raw) / 10**8 * mid * 10**6), 8, 6, Decimal(0))
    pools = {"v3": v3_curve, "v2_as_deep": v2_curve}
    samples: dict[str, list[float]] = {k: [] for k in pools}
    router = Router(Decimal(0))
    for _ in range(150):
        for name, c in pools.items():
            pool = VenueCandidate("dex-arbitrum", lambda i: None, Decimal(0), Decimal(0), 0.0, lot, lot, Decimal(0),
                                  Decimal("0.01"), curve=c)
            t0 = time.perf_counter()
            router.route(Side.BUY, Decimal(30), [book, pool])
            samples[name].append(time.perf_counter() - t0)
    return {name: _us(s) for name, s in samples.items()}
