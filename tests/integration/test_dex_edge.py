"""The DEX edge as a real process over gRPC mTLS against a real anvil with Uniswap V2 deployed.

Swaps fill at exactly the pool math's amounts; the pool state stream follows the traders'
swaps; a pool moved past a swap's bound reverts it (rejected, nothing traded); kill -9 after
a signed swap was journaled (sent, or as if never sent) ends in exactly one swap; a reorg within
the confirmation depth books the swap once; a transaction the node keeps dropping is sent again
and then replaced with a higher fee, and fills once. Automine, or blocks mined by the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.dex.v2math import get_amount_in, get_amount_out
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.chain.accounts import derive
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import ETHER
from seqmesh.runtime.venues.chain.flow import SwapFlow
from seqmesh.runtime.venues.chain.funding import fund_account
from seqmesh.runtime.venues.chain.pools import get_reserves

from seqmesh.testing.dex import SEED, Chain, final, order, rpc
from seqmesh.testing.processes import wait_until


@pytest.fixture
def arb(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path, "arbitrum")
    try:
        c.start_edge()
        yield c
    finally:
        c.stop()


async def test_info_and_pool_state_follow_the_traders(arb: Chain) -> None:
    async with arb.client() as client:
        info = await client.info()
        assert (info.venue, info.kind, info.chain) == ("dex-arbitrum", "dex", "arbitrum")
        assert info.taker_fee == "0.003"
        specs = {i.symbol: (i.tick, i.lot) for i in info.instruments}
        assert specs == {"BTC/USDT": ("0.000001", "1E-8"), "ETH/USDT": ("0.000001", "1E-18")}
        flow = SwapFlow(arb.w3, arb.d, SEED)
        flow.fund()
        head = arb.w3.eth.block_number
        swaps = [s for s in flow.run(30) if s.pair[1] == "USDT"]
        assert swaps, "the seeded flow swapped no USDT pool"
        last = arb.w3.eth.block_number
        # each pool's state is published when it changes: the last swap on it is what must arrive
        moved = {"BTC/USDT": 0, "ETH/USDT": 0}
        for s in swaps:
            moved[f"{s.pair[0][1:]}/USDT"] = s.block
        seen: dict[str, pb.PoolState] = {}
        gas: list[pb.GasPrice] = []

        async def follow() -> None:
            async for item in client.market_data(["BTC/USDT", "ETH/USDT"]):
                if item.WhichOneof("item") == "pool":
                    seen[item.pool.symbol] = item.pool
                elif item.WhichOneof("item") == "gas":
                    gas.append(item.gas)
                if len(seen) == 2 and all(seen[k].block_number >= b for k, b in moved.items()) and gas:
                    return

        await asyncio.wait_for(follow(), 30)
        for symbol, base in (("BTC/USDT", "WBTC"), ("ETH/USDT", "WETH")):
            state = seen[symbol]
            pair = arb.d.pair(base, "USDT")
            r = get_reserves(arb.w3, pair, state.block_number).oriented(pair, arb.d.token(base).address)
            assert (int(state.base_reserve), int(state.quote_reserve)) == (r.reserve_in, r.reserve_out)
            assert state.pool == pair.address and state.fee_ppm == 3000 and state.kind == "uniswap-v2"
            block = arb.w3.eth.get_block(state.block_number)
            assert state.ts.exchange_ts == block["timestamp"] * 1_000_000_000 and state.ts.edge_recv_ts > 0
        assert {s.pair[0] for s in swaps} <= {"WBTC", "WETH"} and head < last
        assert gas[-1].chain == "arbitrum" and gas[-1].chain_id == 42161 and gas[-1].native_symbol == "ETH"
        assert int(gas[-1].base_fee_wei) > 0 and gas[-1].confirmations == 1 and gas[-1].price_symbol == "ETH/USDT"


async def test_sell_and_buy_fill_at_exactly_the_pool_math(arb: Chain) -> None:
    async with arb.client() as client:
        base_r, quote_r = arb.reserves("WBTC")
        want_out = get_amount_out(50_000_000, base_r, quote_r)  # 0.5 WBTC in
        before = arb.balance("WBTC"), arb.balance("USDT"), arb.w3.eth.get_balance(arb.address)
        ack = await client.submit(order("sell-1", "BTC/USDT", pb.SELL, "0.5"))
        assert ack.state in (pb.PENDING_NEW, pb.FILLED) and ack.venue_order_id.startswith("0x"), ack
        sold = await final(client, "sell-1")
        assert sold.state == pb.FILLED, sold.reason
        (fill,) = sold.fills
        assert fill.fill_id == f"dex-arbitrum:BTC/USDT:{ack.venue_order_id}"
        assert Decimal(fill.qty) == Decimal("0.5") and Decimal(fill.price) * Decimal("0.5") == Decimal(want_out) / 10**6
        receipt = arb.w3.eth.get_transaction_receipt(ack.venue_order_id)
        assert Decimal(fill.fee) == Decimal(receipt["gasUsed"] * receipt["effectiveGasPrice"]) / 10**18 > 0
        assert fill.fee_asset == "ETH" and not fill.maker
        after = arb.balance("WBTC"), arb.balance("USDT"), arb.w3.eth.get_balance(arb.address)
        assert (before[0] - after[0], after[1] - before[1]) == (50_000_000, want_out)
        assert before[2] - after[2] == receipt["gasUsed"] * receipt["effectiveGasPrice"]
        # the CC's event stream carries the same one fill, and the order's events name the transaction
        events: list[pb.OrderEvent] = []

        async def until_filled() -> None:
            async for event in client.order_events(0):
                events.append(event)
                if event.state == pb.FILLED:
                    return

        await asyncio.wait_for(until_filled(), 30)
        assert [e.fill.fill_id for e in events if e.HasField("fill")] == [fill.fill_id]
        assert events[-1].venue_order_id == ack.venue_order_id and Decimal(events[-1].filled_qty) == Decimal("0.5")

        base_r, quote_r = arb.reserves("WETH")
        want_in = get_amount_in(2 * ETHER, quote_r, base_r)  # exactly 2 WETH out
        usdt = arb.balance("USDT")
        await client.submit(order("buy-1", "ETH/USDT", pb.BUY, "2"))
        bought = await final(client, "buy-1")
        assert bought.state == pb.FILLED, bought.reason
        (fill,) = bought.fills
        assert Decimal(fill.qty) == 2 and Decimal(fill.price) * 2 == Decimal(want_in) / 10**6
        assert usdt - arb.balance("USDT") == want_in
        balances = {b.asset: b for b in (await client.balances()).balances}
        assert Decimal(balances["BTC"].free) == Decimal(arb.balance("WBTC")) / 10**8
        assert Decimal(balances["ETH"].free) == Decimal(arb.balance("WETH")) / 10**18
        # a limit sell above what the pool pays is refused before anything is signed
        limit = await client.submit(order("sell-2", "BTC/USDT", pb.SELL, "0.1", "100000"))
        assert limit.state == pb.REJECTED and "INSUFFICIENT_OUTPUT_AMOUNT" in limit.reason, limit
        assert [s[0] for s in arb.swaps()] == ["sell-1", "buy-1"]


async def test_a_pool_moved_past_the_bound_reverts_the_swap_and_nothing_trades(arb: Chain) -> None:
    rival = derive(SEED, "rival")
    fund_account(arb.w3, arb.d, rival.address)
    router = at(arb.w3, "UniswapV2Router02", arb.d.router)
    wbtc = at(arb.w3, "Token", arb.d.token("WBTC").address)
    nonce = arb.w3.eth.get_transaction_count(rival.address)
    approve = wbtc.functions.approve(arb.d.router, 2**256 - 1).build_transaction(
        {"from": rival.address, "nonce": nonce, "gas": 100_000, "chainId": arb.w3.eth.chain_id})
    arb.w3.eth.send_raw_transaction(rival.sign_transaction(approve).raw_transaction)
    async with arb.client() as client:
        arb.automine(False)
        before = arb.balance("WBTC"), arb.balance("USDT")
        ack = await client.submit(order("sell-b", "BTC/USDT", pb.SELL, "0.5"))
        assert ack.state == pb.PENDING_NEW, ack
        cancel = await client.cancel("sell-b")  # broadcast: a transaction cannot be called back
        assert cancel.state == pb.PENDING_NEW and "cannot be called back" in cancel.reason, cancel
        # the rival sells 3 WBTC first (a higher tip): the pool pays ~6% less than the edge's bound allows
        dump = router.functions.swapExactTokensForTokens(
            3 * 10**8, 0, [arb.d.token("WBTC").address, arb.d.token("USDT").address], rival.address, 2**40,
        ).build_transaction({"from": rival.address, "nonce": nonce + 1, "gas": 300_000, "chainId": 42161,
                             "maxFeePerGas": 500 * 10**9, "maxPriorityFeePerGas": 100 * 10**9})
        arb.w3.eth.send_raw_transaction(rival.sign_transaction(dump).raw_transaction)
        arb.mine()
        arb.automine(True)
        status = await final(client, "sell-b")
        assert status.state == pb.REJECTED and "INSUFFICIENT_OUTPUT_AMOUNT" in status.reason, status
        assert arb.w3.eth.get_transaction_receipt(ack.venue_order_id)["status"] == 0
        assert (arb.balance("WBTC"), arb.balance("USDT")) == before
        assert arb.swaps() == [("sell-b", "reverted", 1)]


async def test_kill_9_after_journaling_ends_in_exactly_one_swap(arb: Chain) -> None:
    """Killed with a signed swap journaled: once as if never broadcast (the node forgot it), once
    mined while the edge was down. Each restart resolves it to exactly one swap."""
    assert arb.edge is not None
    for cid, mined_while_down in (("crash-1", False), ("crash-2", True)):
        before = arb.balance("WBTC")
        async with arb.client() as client:
            arb.automine(False)
            ack = await client.submit(order(cid, "BTC/USDT", pb.SELL, "0.25"))
            assert ack.state == pb.PENDING_NEW
        wait_until(lambda cid=cid: any(s[0] == cid for s in arb.swaps()), 30, what="the swap journaled")
        arb.edge.kill()
        assert arb.pending_hashes() == [ack.venue_order_id]
        if mined_while_down:
            arb.mine()
        else:
            rpc(arb.w3, "anvil_dropTransaction", ack.venue_order_id)  # as if never broadcast
            assert arb.pending_hashes() == []
        arb.automine(True)
        arb.start_edge()
        async with arb.client() as client:
            if not mined_while_down:
                wait_until(lambda b=before: arb.pending_hashes() != [] or arb.balance("WBTC") != b, 30,
                           what="the journaled swap sent again")
                arb.mine()
            status = await final(client, cid)
            assert status.state == pb.FILLED and len(status.fills) == 1, status
            assert status.fills[0].fill_id.endswith(ack.venue_order_id)  # the same signed bytes
            again = await client.submit(order(cid, "BTC/USDT", pb.SELL, "0.25"))
            assert again.duplicate
        assert before - arb.balance("WBTC") == 25_000_000
    assert [(c, s) for c, s, _ in arb.swaps()] == [("crash-1", "confirmed"), ("crash-2", "confirmed")]


async def test_a_reorg_within_the_confirmation_depth_books_the_swap_once(tmp_path: Path) -> None:
    eth = Chain(tmp_path, "ethereum", "--confirmations", "3")
    try:
        eth.start_edge()
        assert eth.edge is not None
        async with eth.client() as client:
            assert (await client.info()).chain == "ethereum"
            snapshot = rpc(eth.w3, "evm_snapshot")
            before = eth.balance("WBTC")
            ack = await client.submit(order("reorg-1", "BTC/USDT", pb.SELL, "0.5"))
            wait_until(lambda: "swap reorg-1 mined in block" in eth.log(), 30, what="the edge seeing its swap mined")
            eth.mine()  # 2 of 3 deep
            assert (await client.order("reorg-1")).state == pb.PENDING_NEW
            assert rpc(eth.w3, "evm_revert", snapshot)  # the swap's block and the one on it are gone
            wait_until(lambda: "left the chain" in eth.log(), 30, what="the edge noticing the reorg")
            wait_until(lambda: eth.balance("WBTC") != before, 30, what="the swap mined again")
            eth.mine(2)
            status = await final(client, "reorg-1")
            assert status.state == pb.FILLED and len(status.fills) == 1, status
            assert status.fills[0].fill_id.endswith(ack.venue_order_id)
        assert before - eth.balance("WBTC") == 50_000_000
        assert eth.swaps() == [("reorg-1", "confirmed", 1)]
    finally:
        eth.stop()


async def test_a_dropped_transaction_is_sent_again_then_replaced_and_fills_once(arb: Chain) -> None:
    async with arb.client() as client:
        before = arb.balance("WBTC")
        arb.automine(False)
        ack = await client.submit(order("drop-1", "BTC/USDT", pb.SELL, "0.5"))
        first = ack.venue_order_id
        resent = 0
        replacement = ""
        deadline = asyncio.get_running_loop().time() + 60
        while not replacement:  # the node keeps dropping whatever the edge sends
            assert asyncio.get_running_loop().time() < deadline, f"no replacement; edge log:\n{arb.log()[-3000:]}"
            pending = arb.pending_hashes()
            if not pending:
                await asyncio.sleep(0.05)
                continue
            if pending != [first]:
                replacement = pending[0]
                break
            resent += 1
            rpc(arb.w3, "anvil_dropTransaction", first)
            arb.mine()
        assert resent >= 2  # the same bytes came back after being dropped
        arb.automine(True)
        arb.mine()
        status = await final(client, "drop-1")
        assert status.state == pb.FILLED and len(status.fills) == 1, status
        assert status.fills[0].fill_id == f"dex-arbitrum:BTC/USDT:{replacement}"
        assert status.venue_order_id == first  # the order keeps the id it was acknowledged with
        tx = arb.w3.eth.get_transaction(replacement)
        assert tx["nonce"] == arb.w3.eth.get_transaction(replacement)["nonce"]
        assert before - arb.balance("WBTC") == 50_000_000
        assert arb.swaps() == [("drop-1", "confirmed", 2)]


async def test_pools_discovered_from_the_router_and_an_impossible_swap_refused_unsigned(tmp_path: Path) -> None:
    """Without a deployment file the router's factory names the pools; a swap the pool math
    cannot do (the whole reserve) is refused before anything is signed or journaled."""
    c = Chain(tmp_path, "base", discover=True)
    try:
        c.start_edge()
        async with c.client() as client:
            info = await client.info()
            assert {i.symbol for i in info.instruments} == {"BTC/USDT", "ETH/USDT"} and info.chain == "base"
            await client.submit(order("disc-1", "ETH/USDT", pb.BUY, "0.1"))
            assert (await final(client, "disc-1")).state == pb.FILLED
            too_big = await client.submit(order("disc-2", "BTC/USDT", pb.BUY, "100"))  # the whole reserve
            assert too_big.state == pb.REJECTED and "INSUFFICIENT_LIQUIDITY" in too_big.reason, too_big
        assert c.swaps() == [("disc-1", "confirmed", 1)]
    finally:
        c.stop()


async def test_swaps_sent_before_a_block_take_consecutive_nonces_and_each_its_own_quote(arb: Chain) -> None:
    """Two sells of 1 BTC in one block: the second is quoted after the first (the pending state),
    so its bound holds although the first moves the pool ~1.5%, twice the slippage allowed."""
    async with arb.client() as client:
        base_r, quote_r = arb.reserves("WBTC")
        first_out = get_amount_out(10**8, base_r, quote_r)
        second_out = get_amount_out(10**8, base_r + 10**8, quote_r - first_out)
        arb.automine(False)
        acks = [await client.submit(order(f"pair-{i}", "BTC/USDT", pb.SELL, "1")) for i in range(2)]
        txs = [arb.w3.eth.get_transaction(a.venue_order_id) for a in acks]
        assert txs[1]["nonce"] == txs[0]["nonce"] + 1
        arb.mine()
        arb.automine(True)
        fills = [(await final(client, f"pair-{i}")).fills for i in range(2)]
        assert [Decimal(f[0].price) for f in fills] == [Decimal(first_out) / 10**6, Decimal(second_out) / 10**6]
        assert {arb.w3.eth.get_transaction_receipt(a.venue_order_id)["blockNumber"] for a in acks} == {
            arb.w3.eth.get_transaction_receipt(acks[0].venue_order_id)["blockNumber"]}
