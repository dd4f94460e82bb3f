"""WASM algos on a real edge against the simulator: deployed over the edge's gRPC API, called on
every book update, their orders placed through the edge's order management."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import wasmtime
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.testing.guests import bidder
from seqmesh.testing.mesh import cc_tls_paths, start_edge, start_sim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_wasm_host import LOOP

# Places one bid of 100 lots at the best bid, once.
ONCE = bidder(100, once=True, tag=42)


@pytest.fixture
def edge(tmp_path: Path) -> Any:
    sim, url = start_sim(tmp_path, "binance", 5)
    proc, addr = start_edge(tmp_path, url)
    yield url, addr, tmp_path
    proc.stop()
    sim.stop()


async def until(pred: Any, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not await pred():  # noqa: ASYNC110 - polling another process, nothing to wait on here
            await asyncio.sleep(0.05)


async def test_an_algo_places_its_order_and_a_runaway_one_is_stopped(edge: Any) -> None:
    url, addr, tmp = edge
    async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as client:
        status = await client.deploy_algo("mm", ONCE, "BTC/USDT")
        assert status.state == "Stopped" and status.calls == 0  # deployed stopped, feeds already warm
        await client.deploy_algo("runaway", bytes(wasmtime.wat2wasm(LOOP)), "BTC/USDT")
        await client.control_algo("mm", True)
        await client.control_algo("runaway", True)

        async def placed() -> bool:
            return (await client.algos("mm"))[0].orders >= 1

        await until(placed)

        async def runaway_failed() -> bool:
            return (await client.algos("runaway"))[0].state == "Failed"

        await until(runaway_failed)
        bad = (await client.algos("runaway"))[0]
        assert "fuel" in bad.reason and bad.traps == 1
        calls = (await client.algos("mm"))[0].calls

        async def still_called() -> bool:
            return (await client.algos("mm"))[0].calls > calls + 5

        await until(still_called)  # the sibling keeps getting every book update
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.deploy_algo("junk", b"not wasm at all", "BTC/USDT")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # What the edge did, whatever the market did since: the venue has exactly one order of the
    # algo's, as placed (resting or filled, by the flow that trades on the venue meanwhile), and
    # the edge's own record of it agrees.
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        mine = [o for o in await ex.fetch_orders("BTC/USDT") if o["clientOrderId"].startswith("mm.")]
    finally:
        await ex.close()
    assert len(mine) == 1, mine
    order = mine[0]
    assert order["amount"] == 0.001 and order["side"] == "buy" and order["type"] == "limit"
    assert order["status"] in ("open", "closed"), order  # closed: filled
    async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as client:
        async def acknowledged() -> bool:  # the venue's answer may still be on its way to the edge
            return bool((await client.order(order["clientOrderId"])).venue_order_id)

        await until(acknowledged)
        record = await client.order(order["clientOrderId"])
        assert record.venue_order_id == order["id"] and record.quantity == "0.001" and record.side == pb.BUY
        assert record.state in (pb.ACCEPTED, pb.PARTIALLY_FILLED, pb.FILLED), record
        assert (await client.algos("mm"))[0].orders == 1
