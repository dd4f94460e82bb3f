"""Identities on every gRPC link, as real processes over real gRPC and mTLS.

Region eu runs a simulator, an edge and a CC whose peer listener is configured for regions na
and ap, each with its own CA. Every listener is called with no certificate, a certificate of
another CA, a valid certificate of the wrong role, and a region's name signed by another
region's CA: each is refused (at the handshake, or PERMISSION_DENIED once the identity is
read), while the rightful caller gets through. The clients' side is checked too: the CC's edge
client and a peer link refuse a server whose certificate names another role or region.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from seqmesh.runtime.cc.marketdata import MarketData
from seqmesh.runtime.cc.mesh.peers import PeerMesh, PeerState
from seqmesh.runtime.launcher.ready import CC_READY, EDGE_READY, free_port
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import edge_pb2_grpc as pbg
from seqmesh.runtime.proto import peer_pb2 as ppb
from seqmesh.runtime.proto import peer_pb2_grpc as ppbg

from seqmesh.common.certs import Identity, KeyPair, issue_leaf, make_ca, role_dns_name
from seqmesh.testing.mesh import start_sim
from seqmesh.testing.processes import Proc, seqmesh

REGIONS = ("eu", "na", "ap")
REFUSED_AT_HANDSHAKE = grpc.StatusCode.UNAVAILABLE


@dataclass
class Pki:
    dir: Path
    cas: dict[str, KeyPair]

    def leaf(self, signer: str, region: str, role: str, name: str = "main") -> TlsFiles:
        """A leaf naming `role` of `region`, signed by `signer`'s CA (trusting `region`'s CA)."""
        stem = f"{region}-{role}-{name}-by-{signer}"
        cert, key = issue_leaf(self.cas[signer], Identity(region, role, name)).write(self.dir, stem)
        return TlsFiles(self.ca(region), cert, key)

    def ca(self, region: str) -> Path:
        return self.dir / f"{region}-ca.crt"


@dataclass
class EuRegion:
    pki: Pki
    edge: str  # the edge's gRPC address
    impostor: str  # an edge whose certificate (from eu's CA) names region na
    peer: str  # the CC's peer listener


def _edge(tmp: Path, sim_url: str, tls: TlsFiles, name: str) -> Proc:
    return seqmesh("edge", "--venue", "binance", "--region", "eu", "--sim-url", sim_url, "--ca", str(tls.ca),
                   "--cert", str(tls.cert), "--key", str(tls.key), "--state-dir", str(tmp / name),
                   "--symbols", "BTC/USDT", ready=EDGE_READY, log_path=tmp / f"{name}.log", timeout=60)


@pytest.fixture(scope="module")
def eu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EuRegion]:
    tmp = tmp_path_factory.mktemp("identities")
    pki = Pki(tmp / "pki", {r: make_ca(f"seqmesh {r} CA") for r in REGIONS})
    for region, ca in pki.cas.items():
        pki.dir.mkdir(exist_ok=True)
        pki.ca(region).write_bytes(ca.cert_pem)
    procs: list[Proc] = []
    try:
        sim, sim_url = start_sim(tmp, "binance", 3, "--volatility-bps", "0", "--taker-probability", "0")
        procs.append(sim)
        edge = _edge(tmp, sim_url, pki.leaf("eu", "eu", "edge", "binance"), "edge")
        procs.append(edge)
        impostor = _edge(tmp, sim_url, pki.leaf("eu", "na", "edge", "binance"), "impostor")
        procs.append(impostor)
        cc_tls, peer_port = pki.leaf("eu", "eu", "cc"), free_port()
        cc = seqmesh("cc", "--region", "eu", "--listen", "127.0.0.1:0", "--ca", str(cc_tls.ca),
                     "--cert", str(cc_tls.cert), "--key", str(cc_tls.key), "--db", str(tmp / "cc.sqlite"),
                     "--listen-peer", f"127.0.0.1:{peer_port}",
                     # the peers' own listeners are not up: only eu's listener is under test
                     "--peer", f"na@127.0.0.1:{free_port()}@{pki.ca('na')}",
                     "--peer", f"ap@127.0.0.1:{free_port()}@{pki.ca('ap')}",
                     ready=CC_READY, log_path=tmp / "cc.log", timeout=60)
        procs.append(cc)
        assert edge.match is not None and impostor.match is not None
        yield EuRegion(pki, f"127.0.0.1:{edge.match.group(2)}", f"127.0.0.1:{impostor.match.group(2)}",
                       f"127.0.0.1:{peer_port}")
    finally:
        for proc in reversed(procs):
            proc.stop()


def _channel(address: str, trust: Path, client: TlsFiles | None, server_name: str) -> grpc.aio.Channel:
    """A channel trusting `trust` that presents `client`'s certificate (or none), expecting the
    server's identity name (so only the server's own checks are under test)."""
    creds = grpc.ssl_channel_credentials(
        trust.read_bytes(), client.key.read_bytes() if client else None, client.cert.read_bytes() if client else None)
    return grpc.aio.secure_channel(address, creds, options=[("grpc.ssl_target_name_override", server_name)])


async def _call_edge(eu: EuRegion, client: TlsFiles | None) -> grpc.StatusCode:
    async with _channel(eu.edge, eu.pki.ca("eu"), client, role_dns_name("eu", "edge")) as channel:
        try:
            await pbg.EdgeStub(channel).Info(pb.InfoRequest(), timeout=30)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def _link_peer(eu: EuRegion, client: TlsFiles | None, region: str = "na") -> grpc.StatusCode:
    """Open a peer Link to eu's CC as `region` would: hello, then a ping that must be answered."""
    admitted = asyncio.Event()

    async def frames() -> AsyncIterator[ppb.PeerFrame]:
        yield ppb.PeerFrame(hello=ppb.Hello(region=region))
        await admitted.wait()  # no write while the listener may be refusing the call
        yield ppb.PeerFrame(ping=ppb.Ping(t0=1))
        await asyncio.sleep(30)  # hold the stream open until the pong is read

    async with _channel(eu.peer, eu.pki.ca("eu"), client, role_dns_name("eu", "cc")) as channel:
        try:
            async for frame in ppbg.PeerStub(channel).Link(frames(), timeout=30):
                if frame.HasField("hello"):
                    assert frame.hello.region == "eu", frame
                    admitted.set()
                elif frame.HasField("pong"):
                    return grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    raise AssertionError("the link ended without a pong or an error")


async def test_the_edge_listener_admits_only_its_regions_cc(eu: EuRegion) -> None:
    pki = eu.pki
    assert await _call_edge(eu, pki.leaf("eu", "eu", "cc")) == grpc.StatusCode.OK
    refused = {
        "no certificate": await _call_edge(eu, None),
        "another CA": await _call_edge(eu, pki.leaf("ap", "ap", "cc")),
        "the wrong role": await _call_edge(eu, pki.leaf("eu", "eu", "edge", "kraken")),
        "another region's name from eu's CA": await _call_edge(eu, pki.leaf("eu", "na", "cc")),
        "eu's name from another region's CA": await _call_edge(eu, pki.leaf("na", "eu", "cc")),
    }
    assert refused == {
        "no certificate": REFUSED_AT_HANDSHAKE,
        "another CA": REFUSED_AT_HANDSHAKE,
        "the wrong role": grpc.StatusCode.PERMISSION_DENIED,
        "another region's name from eu's CA": grpc.StatusCode.PERMISSION_DENIED,
        "eu's name from another region's CA": REFUSED_AT_HANDSHAKE,
    }


async def test_the_peer_listener_admits_a_peer_cc_only_with_its_regions_ca(eu: EuRegion) -> None:
    pki = eu.pki
    assert await _link_peer(eu, pki.leaf("na", "na", "cc")) == grpc.StatusCode.OK
    assert await _link_peer(eu, pki.leaf("ap", "ap", "cc"), "ap") == grpc.StatusCode.OK
    outsider = make_ca("seqmesh xx CA")
    pki.cas["xx"] = outsider
    refused = {
        "no certificate": await _link_peer(eu, None),
        "another CA": await _link_peer(eu, pki.leaf("xx", "na", "cc")),
        "the wrong role": await _link_peer(eu, pki.leaf("na", "na", "edge", "binance")),
        # both CAs are trusted by the listener; only na's may speak for na
        "na's name from ap's CA": await _link_peer(eu, pki.leaf("ap", "na", "cc")),
        "its own region's CC": await _link_peer(eu, pki.leaf("eu", "eu", "cc"), "eu"),
    }
    assert refused == {
        "no certificate": REFUSED_AT_HANDSHAKE,
        "another CA": REFUSED_AT_HANDSHAKE,
        "the wrong role": grpc.StatusCode.PERMISSION_DENIED,
        "na's name from ap's CA": grpc.StatusCode.PERMISSION_DENIED,
        "its own region's CC": REFUSED_AT_HANDSHAKE,
    }


async def test_the_ccs_edge_client_refuses_a_server_of_another_role_or_region(eu: EuRegion) -> None:
    cc = eu.pki.leaf("eu", "eu", "cc")
    async with EdgeClient(eu.edge, cc) as client:
        assert (await client.info(timeout=30)).venue == "binance"
    for who, address in (("the CC's peer listener (role cc)", eu.peer),
                         ("an edge naming region na, from eu's CA", eu.impostor)):
        async with EdgeClient(address, cc) as client:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.info(timeout=30)
            assert err.value.code() == REFUSED_AT_HANDSHAKE, who
            assert "Hostname Verification" in (err.value.details() or ""), (who, err.value.details())


async def test_a_peer_link_refuses_a_server_that_is_not_that_regions_cc(eu: EuRegion) -> None:
    """An na CC dials eu's listener: as eu (its CA, its name) the link comes up; expecting ap
    there, or trusting ap's CA for it, it does not."""
    pki = eu.pki
    na = pki.leaf("na", "na", "cc")
    cases = {"eu": ("eu", pki.ca("eu")), "ap named at eu's address": ("ap", pki.ca("eu")),
             "eu with ap's CA": ("eu", pki.ca("ap"))}
    got: dict[str, tuple[bool, str]] = {}
    for case, (region, ca) in cases.items():
        mesh = PeerMesh("na", na, MarketData(stale_after_s=30), [PeerState(region, eu.peer, ca)], probe_s=0.2)
        run = asyncio.create_task(mesh.run())
        peer = mesh.peers[region]
        try:
            for _ in range(600):  # up, or refused at least twice (the refusal is not a passing hiccup)
                if peer.connected_out or peer.reconnects >= 2:
                    break
                await asyncio.sleep(0.05)
            got[case] = (peer.connected_out, peer.last_error)
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
    assert got["eu"][0], got
    assert not got["ap named at eu's address"][0] and "Hostname Verification" in got["ap named at eu's address"][1]
    assert not got["eu with ap's CA"][0] and got["eu with ap's CA"][1].startswith("UNAVAILABLE"), got
