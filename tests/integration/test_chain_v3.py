"""Uniswap V3 on a real anvil, deployed from the published v3-core/v3-periphery artifacts: the
swap math (runtime/dex/v3math.py) must equal, to the unit, QuoterV2 and what the pool actually
paid in a swap through SwapRouter, including swaps that cross several initialized ticks and a
bitmap word boundary, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from seqmesh.runtime.dex import v3math, v3ticks
from seqmesh.runtime.dex.chains import chain
from seqmesh.runtime.venues.chain.accounts import derive, fund_native
from seqmesh.runtime.venues.chain.anvil import Anvil
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import ETHER, NO_DEADLINE, V2Deployment, deploy_v2
from seqmesh.runtime.venues.chain.deploy_v3 import DeployedV3Pool, V3Deployment, deploy_v3
from seqmesh.runtime.venues.chain.flow import FlowSettings
from seqmesh.runtime.venues.chain.flow_v3 import V3SwapFlow
from seqmesh.runtime.venues.chain.pools_v3 import read_v3_pool
from seqmesh.runtime.venues.chain.transactions import Signer
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

SEED = 13
Market = tuple[Anvil, V2Deployment, V3Deployment]


@pytest.fixture(scope="module")
def market() -> Iterator[Market]:
    with Anvil(chain("arbitrum"), automine=True) as node:
        v2 = deploy_v2(node.w3, SEED)
        yield node, v2, deploy_v3(node.w3, v2)


def _tokens(v2: V2Deployment, pool: DeployedV3Pool, zero_for_one: bool) -> tuple[str, str]:
    """(token in, token out) addresses of a swap in that direction."""
    a, b = v2.token(pool.base).address, v2.token(pool.quote).address
    token0, token1 = (a, b) if pool.token0 == a else (b, a)
    return (token0, token1) if zero_for_one else (token1, token0)


def _taker(w3: Web3, v2: V2Deployment, v3: V3Deployment, name: str) -> Signer:
    """A fresh account with gas money, a float of every token from the provider, the router approved."""
    taker = Signer(w3, derive(v2.seed, name))
    fund_native(w3, taker.address, 100 * ETHER)
    lp = Signer(w3, derive(v2.seed, "lp"))
    for t in v2.tokens.values():
        lp.transact(at(w3, "Token", t.address).functions.transfer(taker.address, t.raw(10**5 if t.decimals < 18
                                                                                       else 10**4)))
        taker.transact(at(w3, "Token", t.address).functions.approve(v3.swap_router, 2**256 - 1))
    return taker


def _quoter(w3: Web3, v3: V3Deployment, exact_in: bool, tin: str, tout: str, amount: int, fee: int) -> int | None:
    q = at(w3, "QuoterV2", v3.quoter).functions
    call = q.quoteExactInputSingle if exact_in else q.quoteExactOutputSingle
    try:
        return int(call((tin, tout, amount, fee, 0)).call()[0])
    except ContractLogicError:
        return None  # the pool cannot do it (runs out of liquidity)


def test_the_deployed_pools_have_concentrated_liquidity(market: Market) -> None:
    node, _, v3 = market
    for pool in v3.pools.values():
        state, _ = read_v3_pool(node.w3, pool)
        assert len(state.ticks) >= 6, state.ticks  # the ladder's positions, each with two ends
        assert sum(state.ticks.values()) == 0  # every position adds at its bottom what it removes at its top
        below = [t for t in state.ticks if t <= state.tick]
        assert state.liquidity == sum(state.ticks[t] for t in below)  # active = net of the ticks crossed upward
    assert at(node.w3, "SwapRouter", v3.swap_router).functions.factory().call() == v3.factory


@pytest.mark.parametrize("key", [("WBTC", "USDT", 500), ("WETH", "USDT", 3000)])
def test_the_math_equals_quoter_v2(market: Market, key: tuple[str, str, int]) -> None:
    node, v2, v3 = market
    pool = v3.pools[key]
    state, _ = read_v3_pool(node.w3, pool)
    compared = crossing = 0
    for zero_for_one in (True, False):
        tin, tout = _tokens(v2, pool, zero_for_one)
        for exponent in range(70):
            amount = 2**exponent * 1_000  # from dust to more than the ticks read hold
            for exact_in in (True, False):
                expected = _quoter(node.w3, v3, exact_in, tin, tout, amount, pool.fee)
                try:
                    result = v3math.swap(state, zero_for_one, amount if exact_in else -amount)
                except v3math.V3MathError:
                    continue  # past the ticks read, or more than the pool holds
                paid_in, paid_out = ((result.amount0, -result.amount1) if zero_for_one
                                     else (result.amount1, -result.amount0))
                if not exact_in and paid_out != amount:
                    assert expected is None
                    continue
                assert expected == (paid_out if exact_in else paid_in), (zero_for_one, exact_in, amount)
                compared += 1
                crossing += result.ticks_crossed >= 2
    assert compared >= 20 and crossing >= 2


def _swap(w3: Web3, v2: V2Deployment, v3: V3Deployment, taker: Signer, pool: DeployedV3Pool,
          zero_for_one: bool, amount: int, exact_in: bool, bound: int) -> dict[str, Any]:
    router = at(w3, "SwapRouter", v3.swap_router).functions
    tin, tout = _tokens(v2, pool, zero_for_one)
    if exact_in:
        call = router.exactInputSingle((tin, tout, pool.fee, taker.address, NO_DEADLINE, amount, bound, 0))
    else:
        call = router.exactOutputSingle((tin, tout, pool.fee, taker.address, NO_DEADLINE, amount, bound, 0))
    receipt = taker.transact(call, what="swap")
    (event,) = at(w3, "UniswapV3Pool", pool.address).events.Swap().process_receipt(receipt, errors=DISCARD)
    return dict(event["args"])


def _in_out(result: v3math.SwapResult, zero_for_one: bool) -> tuple[int, int]:
    """(paid in, paid out) of the pool's signed amounts."""
    return (result.amount0, -result.amount1) if zero_for_one else (result.amount1, -result.amount0)


def test_swaps_across_several_ticks_pay_exactly_the_math(market: Market) -> None:
    node, v2, v3 = market
    w3 = node.w3
    taker = _taker(w3, v2, v3, "v3-taker")
    pool = v3.pools[("WBTC", "USDT", 500)]
    sell_wbtc = pool.token0 == v2.token("WBTC").address  # zero_for_one when WBTC is token0
    wbtc, usdt = (at(w3, "Token", v2.token(s).address).functions for s in ("WBTC", "USDT"))

    # Sell WBTC until the price has crossed three initialized ticks and a bitmap word boundary.
    state, _ = read_v3_pool(w3, pool)
    def far_enough(result: v3math.SwapResult) -> bool:
        word_changed = v3ticks.word_of(result.tick, pool.tick_spacing) != v3ticks.word_of(state.tick, pool.tick_spacing)
        return result.ticks_crossed >= 3 and word_changed

    amount = next(a for a in (v2.token("WBTC").raw(Decimal(x) / 4) for x in range(1, 400))
                  if far_enough(v3math.swap(state, sell_wbtc, a)))
    expected = v3math.swap(state, sell_wbtc, amount)
    paid_in, paid_out = _in_out(expected, sell_wbtc)
    before = (wbtc.balanceOf(taker.address).call(), usdt.balanceOf(taker.address).call())
    event = _swap(w3, v2, v3, taker, pool, sell_wbtc, amount, True, paid_out)  # min out = the quote itself
    after = (wbtc.balanceOf(taker.address).call(), usdt.balanceOf(taker.address).call())
    assert (event["amount0"], event["amount1"]) == (expected.amount0, expected.amount1)
    assert (before[0] - after[0], after[1] - before[1]) == (amount, paid_out) and paid_in == amount
    moved, _ = read_v3_pool(w3, pool)
    assert (moved.sqrt_price_x96, moved.tick, moved.liquidity) == (
        expected.sqrt_price_x96, expected.tick, expected.liquidity)

    # Buy back an exact amount of WBTC with USDT: the price goes back across the ticks.
    out = amount - amount // 8 + 12_345
    back = v3math.swap(moved, not sell_wbtc, -out)
    back_in, back_out = _in_out(back, not sell_wbtc)
    assert back.ticks_crossed >= 2 and back_out == out
    before_usdt = usdt.balanceOf(taker.address).call()
    event = _swap(w3, v2, v3, taker, pool, not sell_wbtc, out, False, back_in)  # max in = the quote itself
    assert (event["amount0"], event["amount1"]) == (back.amount0, back.amount1)
    assert before_usdt - usdt.balanceOf(taker.address).call() == back_in
    final, _ = read_v3_pool(w3, pool)
    assert (final.sqrt_price_x96, final.tick, final.liquidity) == (back.sqrt_price_x96, back.tick, back.liquidity)


def test_a_min_out_one_unit_above_the_quote_reverts(market: Market) -> None:
    node, v2, v3 = market
    w3 = node.w3
    taker = _taker(w3, v2, v3, "v3-taker-2")
    pool = v3.pools[("WETH", "USDT", 3000)]
    sell_weth = pool.token0 == v2.weth
    state, _ = read_v3_pool(w3, pool)
    amount = next(a for a in (x * ETHER for x in range(10, 5000, 10))
                  if v3math.swap(state, sell_weth, a).ticks_crossed >= 2)
    expected = v3math.swap(state, sell_weth, amount)
    _, paid_out = _in_out(expected, sell_weth)
    with pytest.raises(ContractLogicError, match="Too little received"):
        _swap(w3, v2, v3, taker, pool, sell_weth, amount, True, paid_out + 1)
    event = _swap(w3, v2, v3, taker, pool, sell_weth, amount, True, paid_out)
    assert (event["amount0"], event["amount1"]) == (expected.amount0, expected.amount1)


def test_the_seeded_v3_flow_moves_the_pools_at_exactly_the_math(market: Market) -> None:
    node, v2, v3 = market
    flow = V3SwapFlow(node.w3, v2, v3, seed=5, settings=FlowSettings(traders=2, arb_probability=0.5))
    before = {k: read_v3_pool(node.w3, p)[0].sqrt_price_x96 for k, p in v3.pools.items()}
    records = flow.run(16)
    assert len(records) >= 8 and {r.kind for r in records} == {"arb", "noise"}
    for r in records:
        assert r.amount_out == r.quoted_out > 0 and r.amount_in > 0  # each swap paid what the math said
    after = {k: read_v3_pool(node.w3, p)[0].sqrt_price_x96 for k, p in v3.pools.items()}
    assert all(after[k] != before[k] for k in {r.pool for r in records})
