"""A client's own account at another region's venue, over real processes: two regions (each its
own CA and simulators, edges and CC), na with kraken, eu with binance (the cheaper: na's buys go
there). alice, a client of na, registers at na a credential for eu's binance: na seals it for
binance's edge with the wrapping key eu relays, eu hands it to its edge unopened, and alice's
orders routed from na to binance trade on her own account there; bob's on eu's shared one. Her
account's balances come back to na with binance's announcement and cap her orders there. eu
killed -9 still knows her account is na's (its ledger), and learns her credential again from na.
Her secret is in neither region's files, logs or API answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.cc.marketdata import MarketData
from seqmesh.runtime.cc.mesh.peers import PeerMesh, PeerState
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2 as ppb

from seqmesh.client.api import ApiError, CCClient
from seqmesh.common.sealing import WrappingKey
from seqmesh.testing.mesh import Mesh, cc_tls_paths
from seqmesh.testing.orders import wait_filled
from seqmesh.testing.processes import wait_until
from seqmesh.testing.secret_scan import RecordedAnswers
from seqmesh.testing.venue_accounts import VenueAccount, client_keys

SECRET = "alice-secret-" + secrets.token_hex(12)  # unique: any sighting of it is a leak
ALICE_KEY = "alice-own"
SHARED_KEY, SHARED_SECRET = "seqmesh-demo", "seqmesh-demo-secret"
CLIENT_KEYS = {"alice": "alice-api-key", "bob": "bob-api-key"}
#: na's kraken quotes 50 bps above eu's binance and charges more: buys go to binance
REGIONS = {"na": {"kraken": ("50", "0.0008", "0.002")}, "eu": {"binance": ("0", "0.0008", "0.0005")}}
ORDER = "0.01"
POOR = Decimal(300)
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    tmp = tmp_path_factory.mktemp("remote-credentials")
    with client_keys(tmp, CLIENT_KEYS):
        m = Mesh(tmp, REGIONS, probe_s=1.0, sim_args=("--volatility-bps", "0", "--taker-probability", "0",
                                                      "--api-key", f"{ALICE_KEY}:{SECRET}"))
    try:
        with CCClient(m.regions["na"].api, key=CLIENT_KEYS["alice"]) as c:
            wait_until(lambda: {(e["venue"], e["connected"]) for e in c.edges()} == {("kraken", True),
                                                                                     ("binance", True)},
                       90, what="na sees kraken and eu's binance connected")
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="module")
def seen() -> RecordedAnswers:
    return RecordedAnswers()  # every API answer of the run, for the final scan


def eu_account(mesh: Mesh, key: str, secret: str) -> VenueAccount:
    return VenueAccount(mesh.regions["eu"].sims["binance"][1], key, secret)


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    """Rows of a region's SQLite file, read as another process finds it."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(query).fetchall()


def eu_owners(mesh: Mesh) -> dict[str, tuple[str, str, str]]:
    """Whose eu's CC's ledger says each account forwarded to it is."""
    return {r[0]: (r[1], r[2], r[3]) for r in rows(mesh.regions["eu"].tmp / "cc.sqlite",
                                                   "SELECT credential_id, origin, client, venue"
                                                   " FROM forwarded_credentials")}


def binance_route(c: CCClient) -> dict[str, Any] | None:
    """How na would route a buy of `c`'s at binance now (a preview places nothing)."""
    try:
        route = c.request("POST", "/v1/orders/preview", json={"symbol": "BTC/USDT", "side": "buy",
                                                              "quantity": ORDER, "type": "market"})["routing"]
    except ApiError:
        return None
    view: dict[str, Any] | None = next((v for v in route["venues"] if v["venue"] == "binance"), None)
    return view


def wait_capped(c: CCClient, account: str, free: Decimal) -> dict[str, Any]:
    seen: list[dict[str, Any] | None] = []

    def capped() -> bool:
        seen.append(binance_route(c))
        v = seen[-1]
        return v is not None and v["account"] == account and abs(Decimal(v["balance_cap"]) - free) < CENT

    try:
        wait_until(capped, 30, interval=0.2, what=f"na routing at binance on the {account} account, {free} USDT")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; last seen: {seen[-2:]}") from None
    out = seen[-1]
    assert out is not None
    return out


def fill_ids(order: dict[str, Any], venue: str) -> set[str]:
    return {f["fill_id"].rsplit(":", 1)[1] for f in order["fills"] if f["venue"] == venue}


def test_registered_at_home_trades_on_own_account_abroad(mesh: Mesh, seen: RecordedAnswers) -> None:
    na = mesh.regions["na"]
    own, shared = eu_account(mesh, ALICE_KEY, SECRET), eu_account(mesh, SHARED_KEY, SHARED_SECRET)
    with seen.client(na.api, CLIENT_KEYS["alice"]) as alice, seen.client(na.api, CLIENT_KEYS["bob"]) as bob:
        added = alice.request("POST", "/v1/credentials", json={"venue": "binance", "key": ALICE_KEY,
                                                                "secret": SECRET})
        assert added["venue"] == "binance" and added["permissions"] == ["read", "trade"], added
        [key_file] = sorted((mesh.regions["eu"].tmp / "binance" / "state" / "wrapping-keys").glob("*.pem"))
        assert added["wrapping_key_id"] == WrappingKey.from_pem(key_file.read_bytes()).key_id  # eu's edge's key

        # her account's balances come back from eu, to na only for her; bob's stays the shared one's
        view = wait_capped(alice, "own", own.free("USDT"))
        assert view["remote"] is True and view["region"] == "eu"
        wait_capped(bob, "shared", shared.free("USDT"))

        own_before, shared_before = own.trade_ids(), shared.trade_ids()
        mine = wait_filled(alice, alice.submit("BTC/USDT", "buy", ORDER)["order_id"])
        assert {c["venue"] for c in mine["children"]} == {"binance"}, mine["children"]
        assert fill_ids(mine, "binance") == own.trade_ids() - own_before  # on her own account at eu's venue
        theirs = wait_filled(bob, bob.submit("BTC/USDT", "buy", ORDER)["order_id"])
        assert fill_ids(theirs, "binance") == shared.trade_ids() - shared_before  # bob's on eu's shared one
        assert not fill_ids(mine, "binance") & shared.trade_ids()


def test_her_account_abroad_caps_her_orders(mesh: Mesh, seen: RecordedAnswers) -> None:
    na = mesh.regions["na"]
    own = eu_account(mesh, ALICE_KEY, SECRET)
    lock = own.lock_quote(POOR)
    try:
        with seen.client(na.api, CLIENT_KEYS["alice"]) as alice:
            free = own.free("USDT")
            wait_capped(alice, "own", free)
            mine = wait_filled(alice, alice.submit("BTC/USDT", "buy", "0.02")["order_id"])
            at_binance = sum((Decimal(f["price"]) * Decimal(f["quantity"]) for f in mine["fills"]
                              if f["venue"] == "binance"), Decimal(0))
            assert 0 < at_binance * (1 + Decimal(REGIONS["eu"]["binance"][2])) <= free + CENT, mine["fills"]
            assert {c["venue"] for c in mine["children"]} == {"binance", "kraken"}  # the rest at na's venue
    finally:
        own.cancel(lock)


def test_rotation_at_the_venue_abroad(mesh: Mesh, seen: RecordedAnswers) -> None:
    """eu's edge rotates its wrapping key: na has that edge rewrap alice's data key (eu's CC sees
    only wrapped keys), the old key goes, the edge is killed -9, and she trades on her own account."""
    eu, na = mesh.regions["eu"], mesh.regions["na"]
    keys = eu.tmp / "binance" / "state" / "wrapping-keys"
    [old] = sorted(keys.glob("*.pem"))
    new = WrappingKey.generate()
    (keys / "0002.pem").write_bytes(new.to_pem())
    with seen.client(na.api, CLIENT_KEYS["alice"]) as alice:
        wait_until(lambda: [c["wrapping_key_id"] for c in alice.request("GET", "/v1/credentials")] == [new.key_id],
                   60, what="alice's data key rewrapped for eu's edge's new key, stored at na")
        old.unlink()  # only the new key opens her credential now
        eu.restart_edge("binance")
        own = eu_account(mesh, ALICE_KEY, SECRET)
        wait_capped(alice, "own", own.free("USDT"))  # the edge back at eu, her account's balance back at na
        before = own.trade_ids()
        mine = wait_filled(alice, alice.submit("BTC/USDT", "buy", ORDER)["order_id"])
        assert {c["venue"] for c in mine["children"]} == {"binance"}
        assert fill_ids(mine, "binance") == own.trade_ids() - before


def test_an_account_abroad_is_its_clients_only(mesh: Mesh, seen: RecordedAnswers) -> None:
    """eu, asked over a link with na's own identity, neither places a child of another of na's
    clients on alice's account nor lets that client's credential take her account's id."""
    na = mesh.regions["na"]
    with seen.client(na.api, CLIENT_KEYS["alice"]) as alice:
        [cred] = [c["credential_id"] for c in alice.request("GET", "/v1/credentials") if c["venue"] == "binance"]
    own = eu_account(mesh, ALICE_KEY, SECRET)
    before = own.trade_ids()
    ack, refused = asyncio.run(_as_na(mesh, cred))
    assert ack.state == pb.ORDER_STATE_UNSPECIFIED and "not installed at binance" in ack.reason, ack
    assert refused.error_code == "CREDENTIAL_REFUSED" and "does not belong" in refused.error, refused
    assert own.trade_ids() == before and own.call("fetch_open_orders", "BTC/USDT") == []


async def _as_na(mesh: Mesh, cred: str) -> tuple[pb.OrderAck, ppb.CredentialForwardAck]:
    """Over a peer link of na's (its CA, its CC's identity) to eu: bob's child on alice's account,
    then bob's credential claiming her account's id."""
    ca, cert, key = cc_tls_paths(mesh.regions["na"].tmp, "na")
    prober = PeerMesh("na", TlsFiles(ca, cert, key), MarketData(stale_after_s=30),
                      [PeerState("eu", f"127.0.0.1:{mesh.peer_ports['eu']}", mesh.regions["eu"].ca)], probe_s=1.0)
    prober.peers["eu"].venues["binance"] = ppb.VenueAnnounce()  # where to send (eu announces to na's CC)
    run = asyncio.create_task(prober.run())
    try:
        assert await prober.wait_linked("eu", 30)
        order = pb.SubmitOrder(client_order_id="na-probe-1", symbol="BTC/USDT", side=pb.BUY, type=pb.MARKET,
                               quantity="0.001", account=cred)
        ack = await prober.allocate("binance", order, client="bob")
        claim = ppb.CredentialForward(client="bob")
        claim.install.credential.CopyFrom(pb.SealedCredential(credential_id=cred, client="bob", venue="binance",
                                                              wrap_key_id="x", wrapped_key=b"x", sealed=b"x"))
        return ack, await prober.forward_credential("binance", claim)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


def test_home_killed_knows_whose_account_it_is_before_the_origin_forwards_again(mesh: Mesh,
                                                                               seen: RecordedAnswers) -> None:
    """eu keeps which origin forwarded which account in its ledger: killed -9 and started again
    while na is down (so nothing is forwarded again yet), it refuses at once, from what it kept,
    another client's credential claiming alice's account. na back, it forwards her credential
    again and her next order at binance is on her own account."""
    eu, na = mesh.regions["eu"], mesh.regions["na"]
    with seen.client(na.api, CLIENT_KEYS["alice"]) as alice:
        [cred] = [c["credential_id"] for c in alice.request("GET", "/v1/credentials") if c["venue"] == "binance"]
    assert eu_owners(mesh) == {cred: ("na", "alice", "binance")}
    na.cc.kill()
    eu.cc.kill()
    with client_keys(eu.tmp.parent, CLIENT_KEYS):
        mesh.start_cc("eu")
    with seen.client(eu.api, CLIENT_KEYS["bob"]) as at_eu:
        wait_until(lambda: any(e["venue"] == "binance" and e["connected"] for e in at_eu.edges()), 60,
                   what="eu's restarted CC linked to its binance edge")
    ack, refused = asyncio.run(_as_na(mesh, cred))
    assert ack.state == pb.ORDER_STATE_UNSPECIFIED and "not installed at binance" in ack.reason, ack
    # eu's CC's own answer (its edge's would say "another client's at this edge"): the ownership was kept
    assert refused.error_code == "CREDENTIAL_REFUSED" and "does not belong to na's bob" in refused.error, refused

    with client_keys(na.tmp.parent, CLIENT_KEYS):
        mesh.start_cc("na")
    own = eu_account(mesh, ALICE_KEY, SECRET)
    with seen.client(na.api, CLIENT_KEYS["alice"]) as alice:
        wait_capped(alice, "own", own.free("USDT"))
        before = own.trade_ids()
        mine = wait_filled(alice, alice.submit("BTC/USDT", "buy", ORDER)["order_id"])
        assert {c["venue"] for c in mine["children"]} == {"binance"}
        assert fill_ids(mine, "binance") == own.trade_ids() - before


def test_deleted_at_home_is_removed_abroad(mesh: Mesh, seen: RecordedAnswers) -> None:
    """alice deletes her credential at na: eu's edge drops it, then eu's ledger forgets whose it was."""
    with seen.client(mesh.regions["na"].api, CLIENT_KEYS["alice"]) as alice:
        [cred] = [c["credential_id"] for c in alice.request("GET", "/v1/credentials") if c["venue"] == "binance"]
        alice.request("DELETE", f"/v1/credentials/{cred}")
    wait_until(lambda: cred not in eu_owners(mesh), 30, what=f"eu's ledger forgetting {cred}")
    held = rows(mesh.regions["eu"].tmp / "binance" / "state" / "credentials.sqlite",
                "SELECT credential_id FROM sealed_credentials")
    assert (cred,) not in held, held


def test_secret_nowhere(mesh: Mesh, seen: RecordedAnswers) -> None:
    """Runs last: both regions' logs, databases and edge state, and every API answer."""
    for region in mesh.regions.values():
        with seen.client(region.api, CLIENT_KEYS["alice"]) as alice:
            seen.browse(alice, "/v1/credentials", "/v1/edges", "/v1/remote-orders")
    names = {p.name for r in mesh.regions.values() for p in r.tmp.rglob("*") if p.is_file()}
    assert {"cc.sqlite", "cc.log", "credentials.sqlite"} <= names, sorted(names)  # the scan sees them
    leaks = [found for r in mesh.regions.values() for found in seen.leaks(r.tmp, [SECRET], SECRET.encode())]
    assert len(seen.answers) > 10 and not leaks, f"the secret appears in {leaks}"
