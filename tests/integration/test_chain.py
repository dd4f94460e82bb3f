"""Real EVM chains (anvil) with Uniswap V2 deployed from its published artifacts.

The pool math must agree to the unit with Router02 and with what a swap actually pays; the
pair's reserves read by call and by its Sync events must agree; the seeded flow must move the
pools identically on two chains started alike; chains run side by side with their own ids.
Automine everywhere except the one test of interval mining (nothing asserted there depends on speed).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.dex.artifacts import ToolingMissing
from seqmesh.runtime.dex.chains import CHAINS, chain
from seqmesh.runtime.dex.v2math import Reserves, get_amount_out, get_amounts_in, get_amounts_out
from seqmesh.runtime.venues.chain.accounts import derive, fund_native
from seqmesh.runtime.venues.chain.anvil import Anvil, AnvilError, connect
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import ETHER, PoolSpec, V2Deployment, deploy_v2
from seqmesh.runtime.venues.chain.flow import FlowSettings, SwapFlow
from seqmesh.runtime.venues.chain.pools import get_reserves, swaps_in, sync_events
from seqmesh.runtime.venues.chain.transactions import Signer
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint

SEED = 11


@pytest.fixture(scope="module")
def arbitrum() -> Iterator[tuple[Anvil, V2Deployment]]:
    with Anvil(chain("arbitrum"), automine=True) as node:
        yield node, deploy_v2(node.w3, SEED)


def _taker(w3: Web3, d: V2Deployment, name: str) -> Signer:
    """A fresh account holding 100 WETH, allowing the router to take it."""
    taker = Signer(w3, derive(d.seed, name))
    fund_native(w3, taker.address, 1000 * ETHER)
    weth = at(w3, "WETH9", d.weth)
    taker.transact(weth.functions.deposit(), value=100 * ETHER)
    taker.transact(weth.functions.approve(d.router, 2**256 - 1))
    return taker


def _path_reserves(w3: Web3, d: V2Deployment, symbols: list[str]) -> list[Reserves]:
    hops = []
    for a, b in itertools.pairwise(symbols):
        pair = d.pair(a, b)
        hops.append(get_reserves(w3, pair).oriented(pair, d.token(a).address))
    return hops


def test_deployment_is_what_was_asked(arbitrum: tuple[Anvil, V2Deployment]) -> None:
    node, d = arbitrum
    w3 = node.w3
    assert w3.eth.chain_id == 42161 == d.chain_id
    for symbol, decimals in (("WETH", 18), ("USDC", 6), ("WBTC", 8), ("USDT", 6)):
        assert at(w3, "Token", d.token(symbol).address).functions.decimals().call() == decimals
    router = at(w3, "UniswapV2Router02", d.router)
    assert router.functions.factory().call() == d.factory
    assert router.functions.WETH().call() == d.weth
    # WETH/USDC was seeded with 1000 WETH at 3000 USDC
    pair = d.pair("WETH", "USDC")
    r = get_reserves(w3, pair).oriented(pair, d.weth)
    assert (r.reserve_in, r.reserve_out) == (1000 * ETHER, 3_000_000 * 10**6)
    # the USDT pools (the CEX symbols BTC/USDT, ETH/USDT) start at the CEX simulator's reference prices
    for base, price, depth in (("WBTC", 65000, 100), ("WETH", 3500, 2000)):
        pair = d.pair(base, "USDT")
        r = get_reserves(w3, pair).oriented(pair, d.token(base).address)
        assert (r.reserve_in, r.reserve_out) == (depth * 10 ** d.token(base).decimals, depth * price * 10**6)
    assert at(w3, "UniswapV2Factory", d.factory).functions.allPairsLength().call() == 5


def test_pool_math_equals_router_and_the_swap_paid(arbitrum: tuple[Anvil, V2Deployment]) -> None:
    node, d = arbitrum
    w3 = node.w3
    router = at(w3, "UniswapV2Router02", d.router)
    taker = _taker(w3, d, "taker-exact")
    for symbols, amount_in in ((["WETH", "USDC"], 3 * ETHER + 12345), (["WETH", "USDC", "WBTC"], 7 * ETHER // 3)):
        path = [d.token(s).address for s in symbols]
        hops = _path_reserves(w3, d, symbols)
        ours = get_amounts_out(amount_in, hops)
        assert ours == router.functions.getAmountsOut(amount_in, path).call()
        assert get_amounts_in(ours[-1], hops) == router.functions.getAmountsIn(ours[-1], path).call()

        out_token = at(w3, "Token", path[-1])
        before = out_token.functions.balanceOf(taker.address).call()
        receipt = taker.transact(router.functions.swapExactTokensForTokens(
            amount_in, ours[-1], path, taker.address, 2**64))
        received = out_token.functions.balanceOf(taker.address).call() - before
        assert received == ours[-1]
        # each hop's Swap event paid exactly the hop's quote
        for i, (a, b) in enumerate(itertools.pairwise(symbols)):
            (swap,) = swaps_in(w3, d.pair(a, b), receipt)
            assert swap.amount0_out + swap.amount1_out == ours[i + 1]
            assert swap.amount0_in + swap.amount1_in == ours[i]


def test_a_minimum_out_one_unit_above_the_quote_reverts(arbitrum: tuple[Anvil, V2Deployment]) -> None:
    node, d = arbitrum
    w3 = node.w3
    router = at(w3, "UniswapV2Router02", d.router)
    taker = _taker(w3, d, "taker-greedy")
    path = [d.weth, d.token("USDC").address]
    (hop,) = _path_reserves(w3, d, ["WETH", "USDC"])
    quote = get_amount_out(ETHER, hop.reserve_in, hop.reserve_out)
    with pytest.raises(ContractLogicError, match="INSUFFICIENT_OUTPUT_AMOUNT"):
        taker.send(router.functions.swapExactTokensForTokens(ETHER, quote + 1, path, taker.address, 2**64))
    taker.transact(router.functions.swapExactTokensForTokens(ETHER, quote, path, taker.address, 2**64))


def test_reserves_by_call_and_by_sync_events_agree(arbitrum: tuple[Anvil, V2Deployment]) -> None:
    node, d = arbitrum
    w3 = node.w3
    start = w3.eth.block_number + 1
    flow = SwapFlow(w3, d, seed=3)
    records = flow.run(30)
    assert len(records) >= 20
    assert all(r.amount_out == r.quoted_out for r in records)  # the quote on read reserves is what was paid
    for pair in d.pairs.values():
        syncs = sync_events(w3, pair, start)
        swapped_blocks = {r.block for r in records if r.pair == (pair.base, pair.quote)}
        assert {s.block for s in syncs} == swapped_blocks
        for s in syncs:  # automine: one swap per block, so the Sync is the state at its block
            assert get_reserves(w3, pair, s.block) == s
        latest = get_reserves(w3, pair)
        assert (latest.reserve0, latest.reserve1) == (syncs[-1].reserve0, syncs[-1].reserve1)


Run = tuple[V2Deployment, list[tuple[object, ...]], dict[str, tuple[int, int]]]


def _run(spec_name: str, seed: int, steps: int) -> Run:
    """A fresh chain, deployed and moved by `steps` of the flow: (deployment, swaps, final reserves)."""
    with Anvil(chain(spec_name), automine=True) as node:
        d = deploy_v2(node.w3, seed)
        records = SwapFlow(node.w3, d, seed, FlowSettings(traders=3)).run(steps)
        swaps = [(r.kind, r.trader, r.pair, r.token_in, r.amount_in, r.amount_out) for r in records]
        latest = {f"{p.base}/{p.quote}": get_reserves(node.w3, p) for p in d.pairs.values()}
        reserves = {name: (r.reserve0, r.reserve1) for name, r in latest.items()}
        return d, swaps, reserves


def test_the_seeded_flow_moves_the_pools_identically() -> None:
    d1, swaps1, reserves1 = _run("ethereum", 21, 25)
    d2, swaps2, reserves2 = _run("ethereum", 21, 25)
    assert (d1.factory, d1.router, d1.tokens, d1.pairs) == (d2.factory, d2.router, d2.tokens, d2.pairs)
    assert len(swaps1) >= 15
    assert swaps1 == swaps2
    assert reserves1 == reserves2
    _, swaps3, reserves3 = _run("ethereum", 22, 25)
    assert swaps3 != swaps1 and reserves3 != reserves1  # the seed is what decides


def test_two_chains_side_by_side_keep_their_ids() -> None:
    with Anvil(chain("optimism"), automine=True) as op, Anvil(chain("polygon"), automine=True) as pol:
        assert (op.w3.eth.chain_id, pol.w3.eth.chain_id) == (10, 137)
        assert op.url != pol.url
        d_op, d_pol = deploy_v2(op.w3, SEED), deploy_v2(pol.w3, SEED)
        assert (d_op.chain_id, d_pol.chain_id) == (10, 137)
        assert d_op.pairs == d_pol.pairs  # same seed, same addresses; separate state:
        taker = _taker(op.w3, d_op, "taker-op")
        pair = d_op.pair("WETH", "USDC")
        router = at(op.w3, "UniswapV2Router02", d_op.router)
        taker.transact(router.functions.swapExactTokensForTokens(
            ETHER, 1, [d_op.weth, d_op.token("USDC").address], taker.address, 2**64))
        assert get_reserves(op.w3, pair) != get_reserves(pol.w3, pair)
        # a transaction signed for Optimism never executes on Polygon (EIP-155: the chain id is signed)
        key = derive(SEED, "replayer")
        fund_native(op.w3, key.address, ETHER)
        fund_native(pol.w3, key.address, ETHER)
        signed = key.sign_transaction({"to": taker.address, "value": 1, "gas": 21000, "gasPrice": 10**10,
                                       "nonce": 0, "chainId": 10})
        with contextlib.suppress(Web3RPCError):  # anvil may refuse it or keep it pending; never mine it
            pol.w3.eth.send_raw_transaction(signed.raw_transaction)
        pol.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        assert pol.w3.eth.get_transaction_count(key.address) == 0
        op.w3.eth.wait_for_transaction_receipt(op.w3.eth.send_raw_transaction(signed.raw_transaction), timeout=10)
        assert op.w3.eth.get_transaction_count(key.address) == 1


def test_interval_mining_deploys_and_produces_blocks_without_transactions() -> None:
    # Base's 2 s shortened to 1 s: deployment batches its rounds, so it needs blocks, not seconds per transaction.
    with Anvil(chain("base"), block_time=1.0) as node:
        w3 = node.w3
        d = deploy_v2(w3, SEED, pools=(PoolSpec("WETH", "USDC", Decimal(2500), Decimal(10)),))
        pair = d.pair("WETH", "USDC")
        r = get_reserves(w3, pair).oriented(pair, d.weth)
        assert (r.reserve_in, r.reserve_out) == (10 * ETHER, 25_000 * 10**6)
        assert w3.provider.make_request(RPCEndpoint("anvil_getAutomine"), [])["result"] is False
        # with nothing sent, the chain still mines: empty blocks, each a later second
        start = w3.eth.block_number
        deadline = time.monotonic() + 30
        while w3.eth.block_number < start + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        blocks = [w3.eth.get_block(n) for n in range(start, start + 3)]
        assert [len(b["transactions"]) for b in blocks[1:]] == [0, 0]
        assert blocks[0]["timestamp"] < blocks[1]["timestamp"] < blocks[2]["timestamp"]


def test_bad_setup_gets_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown chain 'solana'"):
        chain("solana")
    assert {s.chain_id for s in CHAINS.values()} == {1, 42161, 8453, 10, 137}
    with pytest.raises(ValueError, match="block_time must be positive"):
        Anvil(chain("base"), block_time=0)
    with pytest.raises(ValueError, match="pool WETH/DAI"):
        deploy_v2(Web3(), SEED, pools=(PoolSpec("WETH", "DAI", Decimal(1), Decimal(1)),))
    with pytest.raises(ValueError, match="traders must be at least 1"):
        FlowSettings(traders=0)
    with pytest.raises(ValueError, match="arb_probability must be in"):
        FlowSettings(arb_probability=1.5)
    with pytest.raises(AnvilError, match="exited with 2: error: unexpected argument '--bogus'"):
        Anvil(chain("base"), extra_args=("--bogus",)).start()  # anvil's own complaint is in the error
    monkeypatch.setenv("SEQMESH_CHAINS_DIR", str(tmp_path))
    with pytest.raises(ToolingMissing, match=r"hack/build-chains\.sh"):
        Anvil(chain("ethereum")).start()


def test_seqmesh_chain_serves_moving_pools_and_its_nodes_die_with_it(tmp_path: Path) -> None:
    out = tmp_path / "chains.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqmesh.cli", "chain", "--chain", "polygon", "--chain", "base", "--automine",
         "--seed", "5", "--flow-interval", "0.05", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "chain.log").open("wb"))
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert out.exists(), (tmp_path / "chain.log").read_text()
        ready = json.loads(out.read_text())
        assert [(c["chain"], c["chain_id"]) for c in ready] == [("polygon", 137), ("base", 8453)]
        clients = [connect(c["url"]) for c in ready]
        assert [w3.eth.chain_id for w3 in clients] == [137, 8453]
        # the traders are swapping: every chain's block number climbs past the deployment's
        start = [w3.eth.block_number for w3 in clients]
        deadline = time.monotonic() + 30
        while any(w3.eth.block_number < s + 3 for w3, s in zip(clients, start, strict=True)):
            assert time.monotonic() < deadline, "no swaps within 30 s"
            time.sleep(0.1)
    finally:
        proc.kill()  # SIGKILL: no handler runs, so only the kernel's parent-death signal stops the nodes
        proc.wait(10)
    deadline = time.monotonic() + 15
    for c in ready:
        w3 = connect(c["url"], timeout=1)
        while True:
            try:
                _ = w3.eth.block_number
            except OSError:
                break
            assert time.monotonic() < deadline, f"anvil at {c['url']} outlived its parent"
            time.sleep(0.1)
