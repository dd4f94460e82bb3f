"""The DEX edge trading Uniswap V3 pools (`--uniswap v3`), a real process over gRPC mTLS against a
real anvil with V2 and V3 deployed: the PoolState stream carries each V3 pool's price, tick,
liquidity and initialized ticks as the pool has them at that block (after others' swaps and a
new position minted); a sell and a buy fill at exactly v3math's amounts across initialized ticks;
a limit the pool cannot meet is refused without spending gas; a reorg under a V3 swap books it
once, from the same bytes, and the pool state follows the chain back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.dex import v3math
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.chain.accounts import derive
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import ETHER, NO_DEADLINE
from seqmesh.runtime.venues.chain.deploy_v3 import DeployedV3Pool, V3Deployment
from seqmesh.runtime.venues.chain.pools_v3 import read_v3_pool
from seqmesh.runtime.venues.chain.transactions import Signer

from seqmesh.testing.dex import Chain, final, order, rpc
from seqmesh.testing.processes import wait_until


@pytest.fixture
def arb(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path, "arbitrum", v3=True)
    try:
        c.start_edge()
        yield c
    finally:
        c.stop()


def _v3(arb: Chain) -> V3Deployment:
    assert arb.v3 is not None
    return arb.v3


async def _pool_state(client: EdgeClient, symbol: str, min_block: int) -> pb.PoolState:
    """The first PoolState of `symbol` at `min_block` or later on the stream."""
    seen: list[int] = []

    async def follow() -> pb.PoolState:
        async for item in client.market_data([symbol]):
            if item.WhichOneof("item") == "pool" and item.pool.symbol == symbol:
                seen.append(item.pool.block_number)
                if item.pool.block_number >= min_block:
                    return item.pool
        raise AssertionError("stream ended")

    try:
        return await asyncio.wait_for(follow(), 30)
    except TimeoutError:
        raise AssertionError(f"no {symbol} state at block >= {min_block}; saw blocks {seen}") from None


def _assert_is_pool(arb: Chain, state: pb.PoolState, pool: DeployedV3Pool) -> None:
    chain_state, _ = read_v3_pool(arb.w3, pool, state.block_number)
    assert state.kind == "uniswap-v3" and state.pool == pool.address and state.fee_ppm == pool.fee
    assert (int(state.sqrt_price_x96), state.tick, int(state.liquidity)) == (
        chain_state.sqrt_price_x96, chain_state.tick, chain_state.liquidity)
    assert {t.tick: int(t.liquidity_net) for t in state.ticks} == dict(chain_state.ticks)
    assert (state.tick_spacing, state.ticks_low, state.ticks_high) == (pool.tick_spacing, *chain_state.tick_range)


async def test_pool_state_follows_swaps_and_mints(arb: Chain) -> None:
    v3 = _v3(arb)
    pool = v3.pool("WBTC", "USDT")
    async with arb.client() as client:
        info = await client.info()
        assert info.taker_fee == "0.003"  # the highest of its pools' fees: ETH/USDT at 0.3%, BTC/USDT at 0.05%
        _assert_is_pool(arb, await _pool_state(client, "BTC/USDT", 0), pool)

        # another trader sells 20 WBTC through SwapRouter: the price crosses initialized ticks
        trader = Signer(arb.w3, derive(arb.d.seed, "lp"))
        wbtc, usdt = arb.d.token("WBTC").address, arb.d.token("USDT").address
        trader.transact(at(arb.w3, "Token", wbtc).functions.approve(v3.swap_router, 2**256 - 1))
        before, _ = read_v3_pool(arb.w3, pool)
        receipt = trader.transact(at(arb.w3, "SwapRouter", v3.swap_router).functions.exactInputSingle(
            (wbtc, usdt, pool.fee, trader.address, NO_DEADLINE, 20 * 10**8, 0, 0)))
        state = await _pool_state(client, "BTC/USDT", receipt["blockNumber"])
        _assert_is_pool(arb, state, pool)
        assert v3math.swap(before, pool.token0 == wbtc, 20 * 10**8).ticks_crossed >= 1
        assert state.tick != before.tick

        # a new position: its two ticks appear (a Mint has the edge read the ticks again)
        npm = at(arb.w3, "NonfungiblePositionManager", v3.position_manager).functions
        token0, token1 = sorted((wbtc, usdt), key=lambda a: int(a, 16))
        low = (state.tick - 1000) // pool.tick_spacing * pool.tick_spacing
        high = (state.tick + 1000) // pool.tick_spacing * pool.tick_spacing
        receipt = trader.transact(npm.mint((token0, token1, pool.fee, low, high, 10**8, 10**10, 0, 0,
                                            trader.address, NO_DEADLINE)))
        state = await _pool_state(client, "BTC/USDT", receipt["blockNumber"])
        _assert_is_pool(arb, state, pool)
        assert {low, high} <= {t.tick for t in state.ticks}


async def test_sell_and_buy_fill_at_exactly_the_v3_math(arb: Chain) -> None:
    v3 = _v3(arb)
    async with arb.client() as client:
        pool = v3.pool("WBTC", "USDT")
        state, _ = read_v3_pool(arb.w3, pool)
        sell_is_zero_for_one = pool.token0 == arb.d.token("WBTC").address
        qty = 16  # of the edge's 20 WBTC: enough to cross two initialized ticks
        expected = v3math.swap(state, sell_is_zero_for_one, qty * 10**8)
        assert expected.ticks_crossed >= 2
        want_out = -(expected.amount1 if sell_is_zero_for_one else expected.amount0)
        before = arb.balance("WBTC"), arb.balance("USDT")
        ack = await client.submit(order("v3-sell", "BTC/USDT", pb.SELL, str(qty)))
        sold = await final(client, "v3-sell")
        assert sold.state == pb.FILLED, sold.reason
        (fill,) = sold.fills
        assert Decimal(fill.qty) == qty and Decimal(fill.price) * qty == Decimal(want_out) / 10**6
        after = arb.balance("WBTC"), arb.balance("USDT")
        assert (before[0] - after[0], after[1] - before[1]) == (qty * 10**8, want_out)
        receipt = arb.w3.eth.get_transaction_receipt(ack.venue_order_id)
        assert receipt["to"] == v3.swap_router
        assert Decimal(fill.fee) == Decimal(receipt["gasUsed"] * receipt["effectiveGasPrice"]) / 10**18 > 0

        weth_pool = v3.pool("WETH", "USDT")
        state, _ = read_v3_pool(arb.w3, weth_pool)
        buy_is_zero_for_one = weth_pool.token0 != arb.d.weth
        want_in = v3math.quote_exact_output(state, buy_is_zero_for_one, 150 * ETHER)  # exactly 150 WETH out
        usdt = arb.balance("USDT")
        await client.submit(order("v3-buy", "ETH/USDT", pb.BUY, "150"))
        bought = await final(client, "v3-buy")
        assert bought.state == pb.FILLED, bought.reason
        (fill,) = bought.fills
        assert Decimal(fill.qty) == 150 and Decimal(fill.price) * 150 == Decimal(want_in) / 10**6
        assert usdt - arb.balance("USDT") == want_in


async def test_a_limit_the_pool_cannot_meet_is_refused_without_gas(arb: Chain) -> None:
    v3 = _v3(arb)
    pool = v3.pool("WBTC", "USDT")
    async with arb.client() as client:
        state, _ = read_v3_pool(arb.w3, pool)
        zero_for_one = pool.token0 == arb.d.token("WBTC").address
        out = v3math.quote_exact_input(state, zero_for_one, 10**8)
        limit = Decimal(out + 1) / 10**6  # one unit more than 1 WBTC fetches
        gas_before = arb.w3.eth.get_balance(arb.address)
        ack = await client.submit(order("v3-limit", "BTC/USDT", pb.SELL, "1", str(limit)))
        assert ack.state == pb.REJECTED and "Too little received" in ack.reason, ack
        assert arb.w3.eth.get_balance(arb.address) == gas_before


async def test_a_reorg_under_a_v3_swap_books_it_once_and_the_pool_state_follows(tmp_path: Path) -> None:
    eth = Chain(tmp_path, "ethereum", "--confirmations", "3", v3=True)
    try:
        eth.start_edge()
        pool = _v3(eth).pool("WBTC", "USDT")
        async with eth.client() as client:
            snapshot = rpc(eth.w3, "evm_snapshot")
            state, _ = read_v3_pool(eth.w3, pool)
            want_out = v3math.quote_exact_input(state, pool.token0 == eth.d.token("WBTC").address, 10**8)
            before = eth.balance("USDT")
            ack = await client.submit(order("v3-reorg", "BTC/USDT", pb.SELL, "1"))
            wait_until(lambda: "swap v3-reorg mined in block" in eth.log(), 30, what="the edge seeing its swap mined")
            eth.mine()  # 2 of 3 deep
            assert rpc(eth.w3, "evm_revert", snapshot)  # the swap's block and the one on it are gone
            wait_until(lambda: "left the chain" in eth.log(), 30, what="the edge noticing the reorg")
            wait_until(lambda: eth.balance("USDT") != before, 30, what="the swap mined again")
            eth.mine(2)
            status = await final(client, "v3-reorg")
            assert status.state == pb.FILLED and len(status.fills) == 1, status
            assert status.fills[0].fill_id.endswith(ack.venue_order_id)  # the same signed bytes
            assert eth.balance("USDT") - before == want_out  # on the pool as it was: the same quote
            _assert_is_pool(eth, await _pool_state(client, "BTC/USDT", eth.w3.eth.block_number), pool)
        assert eth.swaps() == [("v3-reorg", "confirmed", 1)]
    finally:
        eth.stop()
