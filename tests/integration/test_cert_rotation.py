"""Certificate rotation without a restart, as real processes: a simulator, an edge and a CC
serving its REST API over HTTPS, all on files the test rotates while orders stream through.

The rotation swaps the region's CA itself (the CA files then hold only the new one), so
nothing but the rotated files can carry a connection made after it: the orders that fill after
the rotation prove that both the CC (client) and the edge (server) reloaded; a fresh handshake
with each shows the new certificates; and every order of the stream is filled exactly once, at
the CC and at the venue. A second test rotates a region's CA under its peer links.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from seqmesh.runtime.cc.marketdata import MarketData
from seqmesh.runtime.cc.mesh.peers import PeerMesh, PeerService, PeerState
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.launcher.ready import CC_READY, EDGE_READY
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles, server_credentials
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2_grpc as ppbg

from seqmesh.client.api import ApiError, CCClient
from seqmesh.common.certs import Identity, KeyPair, issue_leaf, make_ca
from seqmesh.testing.mesh import start_sim
from seqmesh.testing.peer_venue import HeldVenue
from seqmesh.testing.processes import Proc, seqmesh, wait_until

QTY = Decimal("0.001")
FINAL = ("filled", "canceled", "expired", "rejected")


@dataclass
class Files:
    """One process's TLS files: what the test rotates under it."""

    dir: Path

    @property
    def tls(self) -> TlsFiles:
        return TlsFiles(self.dir / "ca.crt", self.dir / "tls.crt", self.dir / "tls.key")

    def write(self, ca_pem: bytes, leaf: KeyPair) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / ".ca.crt.tmp"
        tmp.write_bytes(ca_pem)
        tmp.replace(self.dir / "ca.crt")
        leaf.write(self.dir, "tls")


def leaves(ca: KeyPair) -> dict[str, KeyPair]:
    return {"cc": issue_leaf(ca, Identity("local", "cc", "main")),
            "edge": issue_leaf(ca, Identity("local", "edge", "binance"))}


@dataclass
class Region:
    tmp: Path
    sim_url: str
    edge: str
    api: str
    files: dict[str, Files]


@pytest.fixture
def region(tmp_path: Path) -> Iterator[Region]:
    ca = make_ca("seqmesh local CA (before)")
    files = {role: Files(tmp_path / role) for role in ("cc", "edge")}
    for role, leaf in leaves(ca).items():
        files[role].write(ca.cert_pem, leaf)
    procs: list[Proc] = []
    try:
        sim, sim_url = start_sim(tmp_path, "binance", 5, "--volatility-bps", "0", "--taker-probability", "0")
        procs.append(sim)
        e = files["edge"].tls
        edge = seqmesh("edge", "--venue", "binance", "--sim-url", sim_url, "--ca", str(e.ca), "--cert", str(e.cert),
                       "--key", str(e.key), "--state-dir", str(tmp_path / "edge-state"), "--symbols", "BTC/USDT",
                       ready=EDGE_READY, log_path=tmp_path / "edge.log", timeout=60)
        procs.append(edge)
        assert edge.match is not None
        address = f"127.0.0.1:{edge.match.group(2)}"
        c = files["cc"].tls
        cc = seqmesh("cc", "--listen", "127.0.0.1:0", "--ca", str(c.ca), "--cert", str(c.cert), "--key", str(c.key),
                     "--https", "--db", str(tmp_path / "cc.sqlite"), "--edge", f"binance={address}",
                     ready=CC_READY, log_path=tmp_path / "cc.log", timeout=60)
        procs.append(cc)
        assert cc.match is not None and cc.match.group(2).startswith("https://")
        yield Region(tmp_path, sim_url, address, cc.match.group(2), files)
    finally:
        for proc in reversed(procs):
            proc.stop()


class OrderStream:
    """Market buys sent one after another from a thread, each under its own client order id
    (sent again under that id while no venue is live, as during the link's reconnect)."""

    def __init__(self, api: CCClient) -> None:
        self.api = api
        self.sent: list[str] = []  # order ids the CC accepted
        self.refusals = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                cid = f"rot-{len(self.sent)}"
                try:
                    self.sent.append(self.api.submit("BTC/USDT", "buy", str(QTY), client_order_id=cid)["order_id"])
                except ApiError as exc:
                    if exc.code not in ("NO_LIQUIDITY", "NO_LIVE_VENUE"):
                        raise
                    self.refusals += 1
                self.stop.wait(0.05)
        except BaseException as exc:
            self.error = exc

    def until(self, n: int, timeout: float, what: str) -> int:
        wait_until(lambda: len(self.sent) >= n or self.error is not None, timeout, what=what)
        if self.error is not None:
            raise self.error
        return len(self.sent)

    def end(self) -> list[str]:
        self.stop.set()
        self.thread.join(30)
        if self.error is not None:
            raise self.error
        return self.sent


def served_certificate(url: str) -> x509.Certificate:
    host, port = url.removeprefix("https://").rsplit(":", 1)
    return x509.load_pem_x509_certificate(ssl.get_server_certificate((host, int(port))).encode())


async def edge_answers(address: str, tls: TlsFiles) -> grpc.StatusCode:
    async with EdgeClient(address, tls) as client:
        try:
            await client.info(timeout=30)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_rotating_every_certificate_and_the_ca_mid_stream_loses_and_duplicates_no_order(region: Region) -> None:
    tmp, files = region.tmp, region.files
    # The test's client trusts both CAs: its own connection is not what is under test.
    ca_old = files["cc"].tls.ca.read_bytes()
    ca_new = make_ca("seqmesh local CA (after)")
    (tmp / "both-cas.crt").write_bytes(ca_old + ca_new.cert_pem)
    old_cc = Files(tmp / "old-cc")
    old_cc.write(ca_old, KeyPair(files["cc"].tls.cert.read_bytes(), files["cc"].tls.key.read_bytes()))
    with CCClient(region.api, ca=str(tmp / "both-cas.crt")) as api:
        wait_until(lambda: all(e["connected"] for e in api.edges()), 60, what="the edge linked to the CC")
        stream = OrderStream(api)
        try:
            before = stream.until(20, 60, "20 orders before the rotation")
            fresh = leaves(ca_new)
            for role in ("edge", "cc"):
                files[role].write(ca_new.cert_pem, fresh[role])
            # The CC's link drops its old channel and dials again with the new files; the edge
            # admits that handshake only once it has reloaded too.
            wait_until(lambda: any(e["reconnects"] for e in api.edges()), 60, what="the CC to dial the edge again")
            wait_until(lambda: all(e["connected"] for e in api.edges()), 60, what="the link up on the new CA")
            after = stream.until(before + 40, 120, "40 more orders after the rotation")
        finally:
            sent = stream.end()
        # Fresh handshakes: the edge admits only the new CA's CC and the HTTPS listener presents the new leaf.
        assert asyncio.run(edge_answers(region.edge, files["cc"].tls)) == grpc.StatusCode.OK
        assert asyncio.run(edge_answers(region.edge, old_cc.tls)) == grpc.StatusCode.UNAVAILABLE
        assert served_certificate(region.api).serial_number == fresh["cc"].cert.serial_number

        def all_final() -> bool:
            return all(o["state"] in FINAL for o in api.orders(limit=1000) if o["order_id"] in set(sent))

        wait_until(all_final, 60, interval=0.2, what="every order of the stream final")
        orders = [o for o in api.orders(limit=1000) if o["order_id"] in set(sent)]
    assert len(sent) == after >= before + 40 and len(set(sent)) == len(sent)
    assert sorted(o["client_order_id"] for o in orders) == sorted(f"rot-{i}" for i in range(len(sent)))
    assert [o for o in orders if o["state"] != "filled" or Decimal(o["filled"]) != QTY] == []
    assert asyncio.run(venue_bought(region.sim_url)) == QTY * len(sent)


async def venue_bought(sim_url: str) -> Decimal:
    """What the edge's account bought at the venue (an order sent twice would count twice)."""
    ex = make_exchange("binance", sim_url=sim_url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        trades = await ex.fetch_my_trades("BTC/USDT", limit=1000)
        return sum((Decimal(str(t["amount"])) for t in trades if t["side"] == "buy"), Decimal(0))
    finally:
        await ex.close()


async def test_a_peer_region_rotating_its_ca_relinks_both_ways(tmp_path: Path) -> None:
    """na swaps its CA and leaf, and eu's copy of na's CA bundle follows (as a PeerLink's
    ConfigMap would): both links come back on the new files, through the listeners as the CC
    builds them, and an allocation crosses; na's old certificate is refused from then on."""
    regions, other = ("na", "eu"), {"na": "eu", "eu": "na"}
    cas = {r: make_ca(f"seqmesh {r} CA") for r in regions}
    files = {r: Files(tmp_path / r) for r in regions}
    bundles = {r: tmp_path / f"{r}-bundle.crt" for r in regions}  # what the other region trusts for r
    for r in regions:
        files[r].write(cas[r].cert_pem, issue_leaf(cas[r], Identity(r, "cc", "main")))
        bundles[r].write_bytes(cas[r].cert_pem)
    meshes = {r: PeerMesh(r, files[r].tls, MarketData(stale_after_s=30),
                          [PeerState(other[r], "", bundles[other[r]])], probe_s=0.1) for r in regions}
    venue = HeldVenue()
    venue.release.set()  # eu's venue answers at once
    meshes["eu"].attach(venue)
    meshes["eu"].announce(pb.VenueInfo(venue="kraken", region="eu", connected=True,
                                       instruments=[pb.Instrument(symbol="BTC/USDT", tick="0.01", lot="0.0001")]),
                          True, 1.0)
    servers = []
    for r in regions:  # as CCApp builds its peer listener
        server = grpc.aio.server()
        ppbg.add_PeerServicer_to_server(PeerService(meshes[r]), server)
        port = server.add_secure_port("127.0.0.1:0", server_credentials(files[r].tls, roots=meshes[r].trusted_roots))
        await server.start()
        servers.append(server)
        meshes[other[r]].peers[r].endpoint = f"127.0.0.1:{port}"
    runs = [asyncio.create_task(m.run()) for m in meshes.values()]
    na, eu = meshes["na"], meshes["eu"]
    try:
        await until(lambda: na.alive(na.peers["eu"]) and eu.alive(eu.peers["na"]),
                    lambda: f"the regions linked: {links(meshes)}")
        old = Files(tmp_path / "na-old")
        old.write(cas["eu"].cert_pem, KeyPair(files["na"].tls.cert.read_bytes(), files["na"].tls.key.read_bytes()))
        dials = (na.peers["eu"].reconnects, eu.peers["na"].reconnects)

        new_ca = make_ca("seqmesh na CA (after)")
        files["na"].write(new_ca.cert_pem, issue_leaf(new_ca, Identity("na", "cc", "main")))
        bundles["na"].write_bytes(new_ca.cert_pem)

        # Each side dials again (na: its own files changed; eu: na's CA bundle did) and is let in.
        await until(lambda: na.peers["eu"].reconnects > dials[0] and eu.peers["na"].reconnects > dials[1]
                    and na.alive(na.peers["eu"]) and eu.alive(eu.peers["na"]),
                    lambda: f"both links again, on the new files: {links(meshes)}")
        order = pb.SubmitOrder(client_order_id="after-rotation", symbol="BTC/USDT", side=pb.BUY, type=pb.MARKET,
                               quantity="0.01")
        ack = await na.allocate("kraken", order, timeout=30)
        assert ack.state == pb.ACCEPTED and venue.allocations == ["na:after-rotation"]
        # A fresh handshake with na's old certificate: eu's listener no longer trusts its CA.
        stale = PeerMesh("na", old.tls, MarketData(stale_after_s=30),
                         [PeerState("eu", na.peers["eu"].endpoint, files["eu"].tls.ca)], probe_s=0.1)
        stale_run = asyncio.create_task(stale.run())
        try:
            await until(lambda: stale.peers["eu"].reconnects >= 2,
                        lambda: f"the old certificate refused twice: {links({'stale': stale})}")
            assert not stale.peers["eu"].connected_out
        finally:
            stale_run.cancel()
            await asyncio.gather(stale_run, return_exceptions=True)
    finally:
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for server in servers:
            await server.stop(grace=None)


async def until(predicate: Callable[[], bool], what: Callable[[], str], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what()}")
        await asyncio.sleep(0.05)


def links(meshes: dict[str, PeerMesh]) -> dict[str, object]:
    return {f"{r}->{p.region}": (p.connected_out, p.connected_in, p.reconnects, p.last_error)
            for r, m in meshes.items() for p in m.peers.values()}
