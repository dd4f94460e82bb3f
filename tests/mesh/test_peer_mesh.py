"""Two and three regions joined in the peer mesh over mTLS, with WAN latency from Toxiproxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seqmesh.client.api import CCClient
from seqmesh.testing.mesh import Mesh, Region
from seqmesh.testing.processes import wait_until
from seqmesh.testing.toxiproxy import Toxiproxy

FEES = ("0", "0.001", "0.001")


def peers(api: str) -> dict[str, dict[str, object]]:
    with CCClient(api) as c:
        return {p["region"]: p for p in c.request("GET", "/v1/peers")}


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, Toxiproxy]]:
    tmp = tmp_path_factory.mktemp("wan")
    toxi = Toxiproxy(tmp)

    def via_proxy(src: str, dst: str, endpoint: str) -> str:
        listen = toxi.proxy(f"{src}-{dst}", endpoint)
        toxi.latency(f"{src}-{dst}", 35, 5)  # ~70 ms round trips: the seed's 60-120 ms band
        return listen

    mesh = Mesh(tmp, {"na": {"coinbase": FEES}, "eu": {"kraken": FEES}, "ap": {"binance": FEES}},
                probe_s=1.0, route=via_proxy)
    for r in mesh.regions.values():
        wait_until(lambda r=r: all(p["connected"] for p in peers(r.api).values()), 60, what=f"{r.region} peers up")
    yield mesh, toxi
    mesh.stop()
    toxi.stop()


def test_every_cc_shows_the_global_view(wan: tuple[Mesh, Toxiproxy]) -> None:
    mesh, _ = wan
    homes = {"coinbase": "na", "kraken": "eu", "binance": "ap"}
    for region, reg in mesh.regions.items():
        with CCClient(reg.api) as c:
            wait_until(lambda c=c: len([b for b in c.bbo("BTC/USDT") if not b["stale"]]) == 3, 30,
                       what=f"three live venues seen from {region}")
            for row in c.bbo("BTC/USDT"):
                assert row["region"] == homes[row["venue"]]
                assert row["remote"] is (homes[row["venue"]] != region)
                ts = row["ts"]
                assert ts["exchange_ts"] > 0 and ts["edge_recv_ts"] <= ts["cc_proc_ts"]
                if row["remote"]:  # the chain continues at the peer, after the link delay
                    assert ts["peer_recv_ts"] >= ts["cc_proc_ts"] + 30_000_000
            nbbo = c.nbbo("BTC/USDT")
            assert sorted(nbbo["venues"]) == ["binance", "coinbase", "kraken"]
            book_venues = {v for lv in c.book("BTC/USDT", 30)["asks"] for v in lv["venues"]}
            assert book_venues == {"binance", "coinbase", "kraken"}
            edges = {e["venue"]: e for e in c.edges()}
            assert {v: (e["region"], e["remote"]) for v, e in edges.items()} == {
                v: (h, h != region) for v, h in homes.items()}
            for e in edges.values():
                if e["remote"]:
                    assert e["connected"] and e["latency_ms"] >= 60


def test_measured_rtt_lands_in_the_configured_band(wan: tuple[Mesh, Toxiproxy]) -> None:
    mesh, _ = wan
    for reg in mesh.regions.values():
        wait_until(lambda reg=reg: all(p["rtt_ms"] for p in peers(reg.api).values()), 15, what="RTT measured")
        for p in peers(reg.api).values():
            assert 60 <= float(p["rtt_ms"]) <= 130, p  # type: ignore[arg-type]


def test_a_cut_link_makes_the_remote_venues_stale_and_heals(wan: tuple[Mesh, Toxiproxy]) -> None:
    mesh, toxi = wan
    na = mesh.regions["na"]
    toxi.enable("eu-na", False)  # eu can no longer mirror to na
    with CCClient(na.api) as c:
        wait_until(lambda: {b["venue"]: b["stale"] for b in c.bbo("BTC/USDT")}["kraken"], 15,
                   what="kraken stale at na")
        assert "kraken" not in c.nbbo("BTC/USDT")["venues"]
        toxi.enable("eu-na", True)
        wait_until(lambda: not {b["venue"]: b["stale"] for b in c.bbo("BTC/USDT")}["kraken"], 30,
                   what="kraken live again at na")


def test_a_peer_from_an_unknown_ca_is_refused(tmp_path: Path, wan: tuple[Mesh, Toxiproxy]) -> None:
    mesh, _ = wan
    # A CC with its own CA that claims to be a peer of na: na does not trust its CA.
    rogue = Region(tmp_path, {"okx": FEES}, region="xx", start=False)
    try:
        rogue.restart_cc("--listen-peer", "127.0.0.1:0", "--peer",
                         f"na@127.0.0.1:{mesh.peer_ports['na']}@{mesh.regions['na'].ca}")
        wait_until(lambda: peers(rogue.api)["na"]["reconnects"] >= 2, 30, what="rogue retries")  # type: ignore[operator]
        p = peers(rogue.api)["na"]
        assert not p["connected"] and p["last_error"]
        with CCClient(mesh.regions["na"].api) as c:
            assert "xx" not in {e["region"] for e in c.edges()}
    finally:
        rogue.stop()
