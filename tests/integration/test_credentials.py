"""Clients' own venue credentials end to end, over real processes: a simulated venue (Binance
dialect) with per-key accounts and permissions, its edge and a CC with two clients.

alice adds her own key and trades on her own account at the venue; bob has none and trades on
the edge's shared account. A key that can withdraw is refused; a tampered sealed credential is
refused by the edge; the edge's wrapping key rotates without alice entering anything again; and
after all of it alice's secret is nowhere: not in a log, an API answer, the metrics page, the
CC's database or the edge's state.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.client.api import ApiError, CCClient
from seqmesh.common.sealing import WrappingKey, seal_credential
from seqmesh.testing.books import wait_live
from seqmesh.testing.mesh import TEST_VENUES, Region, cc_tls_paths
from seqmesh.testing.orders import FINAL
from seqmesh.testing.orders import wait_filled as filled
from seqmesh.testing.processes import wait_until
from seqmesh.testing.venue_accounts import client_keys

SECRET = "alice-secret-" + secrets.token_hex(12)  # unique: any sighting of it is a leak
ALICE_KEY = "alice-binance"
WITHDRAW_KEY, WITHDRAW_SECRET = "bob-withdraw", "bob-withdraw-secret"
SHARED_KEY, SHARED_SECRET = "seqmesh-demo", "seqmesh-demo-secret"  # the edge's shared account
CLIENT_KEYS = {"alice": "alice-api-key", "bob": "bob-api-key", "prometheus.monitor": "prometheus-api-key"}




@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    tmp = tmp_path_factory.mktemp("credentials")
    with client_keys(tmp, CLIENT_KEYS):
        r = Region(tmp, {"binance": TEST_VENUES["binance"]}, sim_args=(
            "--volatility-bps", "0", "--taker-probability", "0",
            "--api-key", f"{ALICE_KEY}:{SECRET}", "--api-key", f"{WITHDRAW_KEY}:{WITHDRAW_SECRET}",
            "--key-permissions", f"{WITHDRAW_KEY}=read,trade,withdraw"))
    try:
        with CCClient(r.api, key=CLIENT_KEYS["alice"]) as c:
            wait_until(lambda: all(e["connected"] for e in c.edges()), 60, what="the binance edge connected")
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def answers() -> list[str]:
    """Every API answer the tests saw, for the final scan."""
    return []


def api(region: Region, client: str, answers: list[str]) -> CCClient:
    c = CCClient(region.api, key=CLIENT_KEYS[client])
    inner = c.request

    def request(method: str, path: str, **kw: Any) -> Any:
        try:
            out = inner(method, path, **kw)
        except ApiError as exc:
            answers.append(repr(exc.body))
            raise
        answers.append(repr(out))
        return out

    c.request = request  # type: ignore[method-assign]
    return c


def at_venue(region: Region, key: str, secret: str, what: str = "fetch_my_trades") -> list[dict[str, Any]]:
    """The account's trades (or open orders, ...) on BTC/USDT, asked of the simulator with that
    account's own key through ccxt."""
    async def ask() -> list[dict[str, Any]]:
        ex = make_exchange("binance", sim_url=region.sims["binance"][1], api_key=key, secret=secret)
        try:
            await ex.load_markets()
            rows: list[dict[str, Any]] = await getattr(ex, what)("BTC/USDT")
            return rows
        finally:
            await ex.close()

    return asyncio.run(ask())


def venue_trades(region: Region, key: str, secret: str) -> list[dict[str, Any]]:
    return at_venue(region, key, secret)


def cli(region: Region, client: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """`seqmesh credentials ...` as the client, in its own process."""
    return subprocess.run([sys.executable, "-m", "seqmesh", "credentials", *args[:1], "--api", region.api,
                           "--key", CLIENT_KEYS[client], *args[1:]], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def trade_ids(order: dict[str, Any]) -> set[str]:
    return {f["fill_id"].rsplit(":", 1)[1] for f in order["fills"]}


def test_own_account_and_shared_account(region: Region, answers: list[str]) -> None:
    with api(region, "alice", answers) as alice, api(region, "bob", answers) as bob:
        added = alice.request("POST", "/v1/credentials", json={"venue": "binance", "key": ALICE_KEY,
                                                                "secret": SECRET})
        assert added["venue"] == "binance" and added["permissions"] == ["read", "trade"]
        assert added["key_fingerprint"].startswith("sha256:") and set(added) == {
            "credential_id", "venue", "key_fingerprint", "created_ns", "permissions", "wrapping_key_id"}
        assert alice.request("GET", "/v1/credentials") == [added]
        listed = cli(region, "alice", "list")
        assert listed.returncode == 0 and added["credential_id"] in listed.stdout, listed
        assert added["key_fingerprint"] in listed.stdout and "read,trade" in listed.stdout
        assert bob.request("GET", "/v1/credentials") == []  # a trader sees only its own
        with pytest.raises(ApiError) as seen:
            bob.request("GET", f"/v1/credentials/{added['credential_id']}")
        assert seen.value.status == 404
        with pytest.raises(ApiError) as seen:
            bob.request("DELETE", f"/v1/credentials/{added['credential_id']}")
        assert seen.value.status == 404

        shared_before = {str(t["id"]) for t in venue_trades(region, SHARED_KEY, SHARED_SECRET)}
        mine = filled(alice, alice.submit("BTC/USDT", "buy", "0.01")["order_id"])
        theirs = filled(bob, bob.submit("BTC/USDT", "buy", "0.02")["order_id"])

        own = venue_trades(region, ALICE_KEY, SECRET)  # alice's account at the venue, by her key
        assert {str(t["id"]) for t in own} == trade_ids(mine)
        assert sum(Decimal(str(t["amount"])) for t in own) == Decimal("0.01")
        shared_new = {str(t["id"]) for t in venue_trades(region, SHARED_KEY, SHARED_SECRET)} - shared_before
        assert shared_new == trade_ids(theirs)  # bob's order on the shared account, none of alice's
        assert not trade_ids(mine) & shared_new


def test_withdrawal_key_refused(region: Region, answers: list[str]) -> None:
    with api(region, "bob", answers) as bob:
        with pytest.raises(ApiError) as seen:
            bob.request("POST", "/v1/credentials", json={"venue": "binance", "key": WITHDRAW_KEY,
                                                          "secret": WITHDRAW_SECRET})
        assert seen.value.status == 422
        error = seen.value.body["error"]
        assert error["code"] == "CREDENTIAL_REFUSED" and "withdraw" in error["message"], error
        assert bob.request("GET", "/v1/credentials") == []
    # the same from the command line, the secret from the environment (never in the arguments)
    refused = cli(region, "bob", "add", "binance", "--venue-key", WITHDRAW_KEY,
                  env={"SEQMESH_VENUE_SECRET": WITHDRAW_SECRET})
    assert refused.returncode == 1 and "CREDENTIAL_REFUSED" in refused.stderr and "withdraw" in refused.stderr


async def _install(region: Region, sealed: pb.SealedCredential, check: bool = False) -> pb.CredentialInstalled:
    ca, cert, key = cc_tls_paths(region.tmp)
    async with EdgeClient(region.edges["binance"][1], TlsFiles(ca, cert, key)) as edge:
        result: pb.CredentialInstalled = await edge.stub.InstallCredential(
            pb.CredentialInstall(credential=sealed, check=check), timeout=30)
        return result


def _sealed_for_edge(region: Region, client: str, cid: str, body: bytes) -> pb.SealedCredential:
    async def public() -> pb.WrappingPublicKey:
        ca, cert, key = cc_tls_paths(region.tmp)
        async with EdgeClient(region.edges["binance"][1], TlsFiles(ca, cert, key)) as edge:
            return (await edge.info()).wrapping_key

    parts = seal_credential(body, client, "binance", cid, asyncio.run(public()).public_key)
    return pb.SealedCredential(credential_id=cid, client=client, venue="binance", wrap_key_id=parts.wrap_key_id,
                               wrapped_key=parts.wrapped_key, sealed=parts.sealed)


def test_tampered_credential_refused(region: Region) -> None:
    body = b'{"key": "x", "secret": "y"}'
    good = _sealed_for_edge(region, "mallory", "cred-t1", body)
    tampered = pb.SealedCredential()
    tampered.CopyFrom(good)
    tampered.sealed = good.sealed[:-1] + bytes([good.sealed[-1] ^ 1])
    moved = pb.SealedCredential()
    moved.CopyFrom(good)
    moved.client = "alice"  # someone else's sealed credential, claimed for alice
    for bad in (tampered, moved):
        with pytest.raises(grpc.aio.AioRpcError) as seen:
            asyncio.run(_install(region, bad))
        assert seen.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "failed authentication" in (seen.value.details() or ""), seen.value.details()


def test_rotation_without_reentering(region: Region, answers: list[str]) -> None:
    keys = region.tmp / "binance" / "state" / "wrapping-keys"
    old = sorted(keys.glob("*.pem"))
    assert len(old) == 1
    new = WrappingKey.generate()
    (keys / "0002.pem").write_bytes(new.to_pem())
    with api(region, "alice", answers) as alice:
        wait_until(lambda: alice.request("GET", "/v1/credentials")[0]["wrapping_key_id"] == new.key_id, 60,
                   what="alice's data key rewrapped for the new wrapping key")
        old[0].unlink()  # the old key retired: only the new one opens alice's credential now
        region.restart_edge("binance")  # kill -9: the edge opens it again from its own sealed copy
        wait_live(alice, 1)
        mine = filled(alice, alice.submit("BTC/USDT", "sell", "0.01")["order_id"])
        assert trade_ids(mine) <= {str(t["id"]) for t in venue_trades(region, ALICE_KEY, SECRET)}


def test_cc_restart_then_delete(region: Region, answers: list[str]) -> None:
    """The CC killed -9 keeps alice's account (its ledger holds the sealed credential); her resting
    order survives the edge killed -9 and is cancelled on her account; a credential with a live
    order on it is not deleted; once deleted, alice trades on the shared account."""
    region.cc.kill()
    with client_keys(region.tmp, CLIENT_KEYS):
        region.restart_cc()
    with api(region, "alice", answers) as alice:
        wait_live(alice, 1)
        [cred] = alice.request("GET", "/v1/credentials")
        far = (Decimal(alice.nbbo("BTC/USDT")["bid"]["price"]) * Decimal("0.8")).quantize(Decimal("0.01"))
        resting = alice.submit("BTC/USDT", "buy", "0.01", type="limit", price=str(far))
        wait_until(lambda: alice.order(resting["order_id"])["children"][0]["state"] == "ACCEPTED", 60,
                   what="alice's limit order resting")
        child = alice.order(resting["order_id"])["children"][0]["child_id"]
        open_at_venue = at_venue(region, ALICE_KEY, SECRET, "fetch_open_orders")
        assert [o["clientOrderId"] for o in open_at_venue] == [child]  # on her own account
        region.restart_edge("binance")  # kill -9: the journal knows the order's account, the edge its credential
        wait_until(lambda: all(e["connected"] for e in alice.edges()), 60, what="the edge back")
        with pytest.raises(ApiError) as seen:
            alice.request("DELETE", f"/v1/credentials/{cred['credential_id']}")
        assert seen.value.status == 409 and seen.value.code == "CREDENTIAL_IN_USE"
        alice.cancel(resting["order_id"])
        wait_until(lambda: alice.order(resting["order_id"])["state"] in FINAL, 60, what="the cancel")
        assert alice.order(resting["order_id"])["state"] == "canceled"
        assert at_venue(region, ALICE_KEY, SECRET, "fetch_open_orders") == []  # cancelled on her account
        assert alice.request("DELETE", f"/v1/credentials/{cred['credential_id']}") == cred
        assert alice.request("GET", "/v1/credentials") == []
        own_before = {str(t["id"]) for t in venue_trades(region, ALICE_KEY, SECRET)}
        shared_before = {str(t["id"]) for t in venue_trades(region, SHARED_KEY, SHARED_SECRET)}
        after = filled(alice, alice.submit("BTC/USDT", "buy", "0.01")["order_id"])
        assert {str(t["id"]) for t in venue_trades(region, ALICE_KEY, SECRET)} == own_before
        assert trade_ids(after) <= {str(t["id"]) for t in venue_trades(region, SHARED_KEY, SHARED_SECRET)} \
            - shared_before


def test_secret_nowhere(region: Region, answers: list[str]) -> None:
    """Runs last: every log, answer, metrics page and stored file of the run, scanned for the secret."""
    with api(region, "alice", answers) as alice:
        for order in alice.orders():
            alice.order(order["order_id"])
        for path in ("/v1/credentials", "/v1/positions", "/v1/edges", "/openapi.json"):
            alice.request("GET", path)
    with api(region, "prometheus.monitor", answers) as prometheus:  # a scrape's key (role monitor)
        metrics = prometheus.http.get("/metrics")
        assert metrics.status_code == 200, metrics.text
        answers.append(metrics.text)
    assert len(answers) > 10
    leaks = [a[:200] for a in answers if SECRET in a]
    files = [p for p in region.tmp.rglob("*") if p.is_file() and "pki" not in p.parts]
    assert any(p.name == "cc.sqlite" for p in files) and any(p.name == "credentials.sqlite" for p in files)
    leaks += [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaks, f"the secret appears in {leaks}"
