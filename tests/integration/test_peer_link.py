"""The peer link does not hold a region's traffic behind a venue's answer.

Two regions' peer meshes (`runtime/cc/mesh/peers.py`) linked by real gRPC over mTLS on loopback,
each region with its own CA. EU's side of the region (the `PeerHandler` seam, which in a CC is
`RemoteHome` placing the child on an edge) holds NA's allocation until the test releases it: a
venue that has not answered yet, controlled rather than timed. Meanwhile NA's pings on that same
stream must still be answered (the router prices a region by that round trip) and EU's market
data must still reach NA's aggregator; once released, the allocation's ack comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from seqmesh.runtime.cc.marketdata import MarketData
from seqmesh.runtime.cc.mesh.peers import PeerMesh, PeerService, PeerState
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2_grpc as ppbg

from seqmesh.common.certs import Identity, issue_leaf, make_ca
from seqmesh.testing.peer_venue import HeldVenue

REGIONS = ("na", "eu")
BTC = pb.Instrument(symbol="BTC/USDT", tick="0.01", lot="0.0001")


def tls_files(tmp: Path) -> dict[str, TlsFiles]:
    cas = {r: make_ca(f"seqmesh {r} CA") for r in REGIONS}
    out = {}
    for r in REGIONS:
        leaf = issue_leaf(cas[r], Identity(r, "cc", "cc"))
        (tmp / f"{r}-ca.crt").write_bytes(cas[r].cert_pem)
        (tmp / f"{r}.crt").write_bytes(leaf.cert_pem)
        (tmp / f"{r}.key").write_bytes(leaf.key_pem)
        out[r] = TlsFiles(tmp / f"{r}-ca.crt", tmp / f"{r}.crt", tmp / f"{r}.key")
    return out


async def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[tuple[dict[str, PeerMesh], HeldVenue]]:
    tls = tls_files(tmp_path)
    other = {"na": "eu", "eu": "na"}
    meshes = {r: PeerMesh(r, tls[r], MarketData(stale_after_s=30),
                          [PeerState(other[r], "", tls[other[r]].ca)], probe_s=0.05) for r in REGIONS}
    servers = []
    for r in REGIONS:  # each server trusts exactly its peer's CA
        creds = grpc.ssl_server_credentials([(tls[r].key.read_bytes(), tls[r].cert.read_bytes())],
                                            root_certificates=tls[other[r]].ca.read_bytes(), require_client_auth=True)
        server = grpc.aio.server()
        ppbg.add_PeerServicer_to_server(PeerService(meshes[r]), server)
        port = server.add_secure_port("127.0.0.1:0", creds)
        await server.start()
        servers.append(server)
        meshes[other[r]].peers[r].endpoint = f"127.0.0.1:{port}"
    held = HeldVenue()
    meshes["eu"].attach(held)
    meshes["eu"].announce(pb.VenueInfo(venue="kraken", region="eu", connected=True, instruments=[BTC]), True, 1.0)
    runs = [asyncio.create_task(m.run()) for m in meshes.values()]
    try:
        na_eu = meshes["na"].peers["eu"]
        await wait_for(lambda: meshes["na"].alive(na_eu) and meshes["na"].routable("kraken"), 30, "NA linked to EU")
        yield meshes, held
    finally:
        held.release.set()
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for server in servers:
            await server.stop(grace=None)


def snapshot(seq: int, bid: str) -> pb.MarketData:
    snap = pb.BookSnapshot(symbol="BTC/USDT", book_seq=seq, bids=[pb.Level(price=bid, qty="1")],
                           asks=[pb.Level(price="50010", qty="1")])
    return pb.MarketData(venue="kraken", snapshot=snap)


async def test_a_venue_not_answering_holds_neither_pings_nor_market_data(
        linked: tuple[dict[str, PeerMesh], HeldVenue]) -> None:
    meshes, held = linked
    na, eu = meshes["na"], meshes["eu"]
    order = pb.SubmitOrder(client_order_id="p1", symbol="BTC/USDT", side=pb.BUY, type=pb.MARKET, quantity="0.01")
    allocation = asyncio.create_task(na.allocate("kraken", order, timeout=60))
    await asyncio.wait_for(held.entered.wait(), 30)
    assert held.allocations == ["na:p1"]

    # While EU's venue keeps the allocation waiting: NA's pings on that stream are answered ...
    peer = na.peers["eu"]
    pongs = [peer.last_pong]
    for _ in range(3):
        await wait_for(lambda: peer.last_pong > pongs[-1], 30, "a pong while the allocation waits")
        pongs.append(peer.last_pong)
    assert na.alive(peer) and not allocation.done()
    # ... and EU's books still reach NA's aggregator.
    eu.mirror(snapshot(7, "50000"))
    book = na.marketdata.books[("kraken", "BTC/USDT")]
    await wait_for(lambda: book.synced and book.seq == 7, 30, "EU's book at NA while the allocation waits")
    assert na.marketdata.best("BTC/USDT")[0] == 50000 and not allocation.done()

    held.release.set()  # the venue answers
    ack = await asyncio.wait_for(allocation, 30)
    assert (ack.client_order_id, ack.venue_order_id, ack.state) == ("p1", "v-1", pb.ACCEPTED)


def test_a_cc_whose_peer_ca_is_not_mounted_yet_serves_its_region(tmp_path: Path) -> None:
    """A pod whose configuration already names a new peer while its volumes do not hold that
    peer's CA yet (the ConfigMap is updated live, the mounts only with a new pod) must come up
    and be Ready, or its StatefulSet could never roll it: the peer stays down and says why."""
    from seqmesh.client.api import CCClient
    from seqmesh.testing.mesh import TEST_VENUES, Region
    from seqmesh.testing.processes import wait_until

    missing = tmp_path / "peers" / "eu.crt"
    region = Region(tmp_path, {"binance": TEST_VENUES["binance"]}, region="na",
                    cc_args=("--listen-peer", "127.0.0.1:0", "--peer", f"eu@127.0.0.1:9@{missing}"))
    try:
        with CCClient(region.api) as c:
            wait_until(lambda: any(e["connected"] for e in c.edges()), 30, what="its own venue")
            peer = next(p for p in c.request("GET", "/v1/peers") if p["region"] == "eu")
            assert not peer["connected"] and "CA bundle unreadable" in (peer["last_error"] or ""), peer
    finally:
        region.stop()
