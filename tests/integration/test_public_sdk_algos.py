"""Algos built with the unmodified public `sequence-algo-sdk` 0.4 from crates.io
(`examples/algos-public`) on real edges against the simulator, beside seqmesh's own ABI."""

from __future__ import annotations

import asyncio
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.testing import algos
from seqmesh.testing.mesh import cc_tls_paths, start_edge, start_sim

#: A market that does not move: the books the algo sees are the books the test reads.
STILL = ("--volatility-bps", "0", "--taker-probability", "0")


@pytest.fixture(scope="module")
def wasm() -> dict[str, Path]:
    return algos.build_public()


@pytest.fixture
def edge(tmp_path: Path) -> Any:
    sim, url = start_sim(tmp_path, "binance", 5, *STILL)
    proc, addr = start_edge(tmp_path, url, symbols="BTC/USDT")
    yield url, addr, tmp_path
    proc.stop()
    sim.stop()


async def until(what: str, pred: Any, client: EdgeClient | None = None, timeout: float = 45) -> None:
    """Wait for `pred`; on timeout say what the edge's algos were doing."""
    try:
        async with asyncio.timeout(timeout):
            while not await pred():  # noqa: ASYNC110 - polling another process
                await asyncio.sleep(0.1)
    except TimeoutError:
        seen = []
        for a in await client.algos() if client is not None else []:
            assert client is not None
            seen.append(f"{a.name}: {a.state} {a.reason} calls={a.calls} orders={a.orders} denied={a.denied} "
                        f"logs={(await client.algo_logs(a.name))[-5:]}")
        raise AssertionError(f"timed out waiting for {what}; seen: {seen}") from None


async def venue_orders(url: str, prefix: str) -> list[dict[str, Any]]:
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        return [o for o in await ex.fetch_orders("BTC/USDT") if o["clientOrderId"].startswith(prefix)]
    finally:
        await ex.close()


async def test_a_public_sdk_quoter_bids_under_the_best_bid_and_cancels_at_shutdown(edge: Any,
                                                                                  wasm: dict[str, Path]) -> None:
    url, addr, tmp = edge
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        market = ex.market("BTC/USDT")
        book = await ex.fetch_order_book("BTC/USDT")
    finally:
        await ex.close()
    tick = Decimal(str(market["precision"]["price"]))
    lot = Decimal(str(market["precision"]["amount"]))
    want_price = Decimal(str(book["bids"][0][0])) - tick
    # the venue's minimum at that price: its minimum quantity and its minimum notional, in whole lots
    at_least = max(Decimal(str(market["limits"]["amount"]["min"])),
                   Decimal(str(market["limits"]["cost"]["min"])) / want_price)
    want_qty = (at_least / lot).to_integral_value(ROUND_CEILING) * lot
    async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as client:
        await client.deploy_algo("q", wasm["quoter"].read_bytes(), "BTC/USDT", running=True)

        async def resting() -> bool:
            return len([o for o in await venue_orders(url, "q.") if o["status"] == "open"]) == 1

        await until("the quoter's bid at the venue", resting, client)
        status = (await client.algos("q"))[0]
        assert status.state == "Running" and status.traps == 0 and status.denied == 0, status
        [order] = await venue_orders(url, "q.")
        assert order["side"] == "buy" and order["type"] == "limit"
        assert Decimal(str(order["price"])) == want_price, (order["price"], want_price)
        assert Decimal(str(order["amount"])) == want_qty  # from AlgoState.symbol: the venue's minimums
        logs = await client.algo_logs("q")
        assert f"info: quoting at {int(want_price * 10**9)}" in logs, logs

        await client.control_algo("q", False)  # on_shutdown: the SDK's cancel_all from AlgoState's orders

        async def cancelled() -> bool:
            return all(o["status"] == "canceled" for o in await venue_orders(url, "q."))

        await until("the shutdown's cancel at the venue", cancelled, client)
        record = await client.order(order["clientOrderId"])
        assert record.state == pb.CANCELED, record
        assert (await client.algos("q"))[0].state == "Stopped"
