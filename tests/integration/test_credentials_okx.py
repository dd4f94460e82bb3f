"""A client's own account on the OKX dialect, at its edge over gRPC (real simulator and edge
processes): the edge opens the sealed credential (key, secret and passphrase), asks the venue
what the key may do (OKX's account config `perm`), trades that client's order on that account,
and refuses a key that can withdraw."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.common.sealing import seal_credential
from seqmesh.testing.mesh import cc_tls_paths, start_edge, start_sim
from seqmesh.testing.processes import Proc

TRADER = ("okx-client", "okx-client-secret", "okx-client-pass")
WITHDRAWER = ("okx-withdrawer", "okx-withdrawer-secret", "okx-withdrawer-pass")
CALM = ("--flow-interval-ms", "60000", "--volatility-bps", "0", "--taker-probability", "0")


@pytest.fixture(scope="module")
def okx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    tmp = tmp_path_factory.mktemp("okx-credentials")
    procs: list[Proc] = []
    try:
        sim, url = start_sim(tmp, "okx", 17, "--dialect", "okx", *CALM, "--api-key", ":".join(TRADER),
                             "--api-key", ":".join(WITHDRAWER),
                             "--key-permissions", f"{WITHDRAWER[0]}=read,trade,withdraw")
        procs.append(sim)
        edge, addr = start_edge(tmp, url, "okx", "--sim-dialect", "okx", symbols="BTC/USDT")
        procs.append(edge)
        yield tmp, url, addr
    finally:
        for proc in procs:
            proc.stop()


async def _install(tmp: Path, addr: str, client: str, cid: str, account: tuple[str, str, str]) -> Any:
    async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as edge:
        public = (await edge.info()).wrapping_key
        body = orjson.dumps({"key": account[0], "secret": account[1], "passphrase": account[2]})
        parts = seal_credential(body, client, "okx", cid, public.public_key)
        sealed = pb.SealedCredential(credential_id=cid, client=client, venue="okx", wrap_key_id=parts.wrap_key_id,
                                     wrapped_key=parts.wrapped_key, sealed=parts.sealed)
        return await edge.stub.InstallCredential(pb.CredentialInstall(credential=sealed, check=True), timeout=30)


def test_own_okx_account(okx: tuple[Path, str, str]) -> None:
    tmp, url, addr = okx
    installed = asyncio.run(_install(tmp, addr, "carol", "cred-okx-1", TRADER))
    assert list(installed.permissions) == ["read", "trade"]

    async def trade() -> tuple[pb.OrderStatus, list[dict[str, Any]]]:
        async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as edge:
            await edge.submit(pb.SubmitOrder(client_order_id="carol-1", symbol="BTC/USDT", side=pb.BUY,
                                             type=pb.MARKET, quantity="0.01", account="cred-okx-1"))
            # OKX answers a new order with its id only: the edge's poll of that account books the fills.
            for _ in range(600):
                status = await edge.order("carol-1")
                if status.state == pb.FILLED:
                    break
                await asyncio.sleep(0.1)
        venue = make_exchange("okx", sim_url=url, dialect="okx", api_key=TRADER[0], secret=TRADER[1],
                              password=TRADER[2])
        try:
            await venue.load_markets()
            return status, [*await venue.fetch_my_trades("BTC/USDT")]
        finally:
            await venue.close()

    status, trades = asyncio.run(trade())
    assert status.state == pb.FILLED, status
    assert {f.fill_id.rsplit(":", 1)[1] for f in status.fills} == {str(t["id"]) for t in trades}
    assert sum(float(t["amount"]) for t in trades) == pytest.approx(0.01)


def test_withdrawal_key_refused(okx: tuple[Path, str, str]) -> None:
    tmp, _, addr = okx
    with pytest.raises(grpc.aio.AioRpcError) as seen:
        asyncio.run(_install(tmp, addr, "dave", "cred-okx-2", WITHDRAWER))
    assert seen.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "can withdraw" in (seen.value.details() or ""), seen.value.details()


def test_unknown_account_refused(okx: tuple[Path, str, str]) -> None:
    tmp, _, addr = okx

    async def submit() -> pb.OrderAck:
        async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as edge:
            return await edge.submit(pb.SubmitOrder(client_order_id="nobody-1", symbol="BTC/USDT", side=pb.BUY,
                                                    type=pb.MARKET, quantity="0.01", account="cred-none"))

    ack = asyncio.run(submit())
    assert ack.state == pb.REJECTED and "no such client credential" in ack.reason, ack
