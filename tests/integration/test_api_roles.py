"""Clients and roles over a real region (simulator, edge, CC): keys kept as digests, every
endpoint refusing what is not the caller's, the kill switches' scopes, per-client rate limits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from seqmesh.client.api import ApiError, CCClient
from seqmesh.client.stream import StreamClient
from seqmesh.testing.guests import pinger
from seqmesh.testing.mesh import TEST_VENUES, Region
from seqmesh.testing.processes import wait_until

PINGER = pinger(200)
#: the endpoints that hold no client's data (the market, the region): any client reads them
SHARED = {"/v1/bbo", "/v1/nbbo/{symbol}", "/v1/book/{symbol}", "/v1/pools", "/v1/trades", "/v1/edges",
          "/v1/peers", "/v1/pairs", "/v1/clients/me", "/v1/quotes/{symbol}", "/v1/orders/preview"}
#: answered without a key
PUBLIC = {"/healthz"}
#: the region's own figures (every venue, peer and algo): a monitor's or an admin's key, nobody else's
MONITORED = {"/metrics"}
#: their cross-client cases live with their own tests (a credential needs a venue account of the client's)
ELSEWHERE = {"/v1/credentials", "/v1/credentials/{credential_id}"}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    # A market that holds still and has no takers: a limit far under it rests until cancelled.
    r = Region(tmp_path_factory.mktemp("roles"), {"binance": TEST_VENUES["binance"]},
               sim_args=("--volatility-bps", "0", "--taker-probability", "0"))
    with CCClient(r.api) as dev:
        wait_until(lambda: len(dev.bbo("BTC/USDT")) == 1 and dev.edges()[0]["connected"], 30, what="a live venue")
    yield r
    r.stop()


@pytest.fixture(scope="module")
def keys(region: Region) -> dict[str, str]:
    """Two traders and a second admin, made by the development admin `dev`."""
    with CCClient(region.api) as dev:
        made = {name: dev.create_client(name, role) for name, role in
                (("alice", "trader"), ("bob", "trader"), ("root", "admin"))}
    for name, c in made.items():
        assert c["key"].startswith("smk_") and c["client_id"] == name and c["revoked_ns"] is None
    return {name: c["key"] for name, c in made.items()}


def client(region: Region, key: str) -> CCClient:
    return CCClient(region.api, key)


def status(c: CCClient, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    resp = c.http.request(method, path, **kw)
    return resp.status_code, resp.json() if resp.content else None


def far_limit(c: CCClient) -> dict[str, Any]:
    """A buy resting far under the market (it never fills here)."""
    o = c.submit("BTC/USDT", "buy", "0.01", type="limit", price="1000")
    assert o["state"] in ("new", "working"), o
    return o


def algo(c: CCClient, name: str) -> dict[str, Any]:
    a: dict[str, Any] = c.algo(name)
    return a


def test_keys_are_kept_as_digests_only(region: Region, keys: dict[str, str]) -> None:
    with CCClient(region.api) as dev:
        listed = {c["client_id"]: c for c in dev.clients()}
        assert set(listed) == {"dev", "alice", "bob", "root"}
        assert listed["dev"]["source"] == "config" and listed["alice"]["source"] == "api"
        assert all("key" not in c for c in listed.values())
        dev.request("GET", "/v1/orders")  # a commit since the clients were made
    for name, key in keys.items():
        with client(region, key) as c:
            me = c.whoami()
            assert (me["client_id"], me["role"]) == (name, "admin" if name == "root" else "trader")
    ledger = b"".join(p.read_bytes() for p in region.tmp.glob("cc.sqlite*"))
    log = (region.tmp / "cc.log").read_bytes()
    for key in keys.values():
        assert key.encode() not in ledger and key.encode() not in log
        assert hashlib.sha256(key.encode()).hexdigest().encode() in ledger
    assert b"seqmesh-dev-key" not in ledger  # the settings' client is not stored at all


def test_every_endpoint_needs_an_active_key(region: Region, keys: dict[str, str]) -> None:
    spec = httpx.get(f"{region.api}/openapi.json").json()
    with CCClient(region.api) as dev:
        doomed = dev.create_client("doomed")
        dev.revoke_client("doomed")
    assert set(spec["paths"]) >= PUBLIC
    for path, ops in spec["paths"].items():
        url = region.api + path.replace("{symbol}", "BTC-USDT").replace("{order_id}", "x").replace(
            "{name}", "x").replace("{client_id}", "x")
        for method in ops:
            for headers in ({}, {"Authorization": f"Bearer {doomed['key']}"}, {"Authorization": "Bearer nope"},
                            {"Authorization": keys["alice"]}):  # no scheme
                resp = httpx.request(method.upper(), url, headers=headers)
                if path in PUBLIC:
                    assert resp.status_code == 200, (method, path, resp.text)
                else:
                    assert resp.status_code == 401, (method, path, headers, resp.text)
                    assert resp.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_trader_sees_and_changes_only_its_own(region: Region, keys: dict[str, str]) -> None:
    with client(region, keys["alice"]) as alice, client(region, keys["bob"]) as bob, \
            client(region, keys["root"]) as root:
        mine = far_limit(alice)
        oid = mine["order_id"]
        alice.submit("BTC/USDT", "buy", "0.001")  # a fill: alice holds a position
        wait_until(lambda: any(p["symbol"] == "BTC/USDT" for p in alice.positions()), 30, what="alice's position")
        alice.deploy_algo("alice-pinger", PINGER, "BTC/USDT", ["binance"], start=False)
        covered: set[str] = set()

        def refused(method: str, path: str, expect: int, code: str, **kw: Any) -> None:
            got, body = status(bob, method, path, **kw)
            assert (got, body["error"]["code"]) == (expect, code), (method, path, body)

        # alice's order does not exist for bob, whatever he asks of it
        for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/resume"),
                               ("GET", "/tca"), ("GET", "/tca.svg")):
            refused(method, f"/v1/orders/{oid}{suffix}", 404, "ORDER_NOT_FOUND")
        covered |= {"/v1/orders/{order_id}", "/v1/orders/{order_id}/pause", "/v1/orders/{order_id}/resume",
                    "/v1/orders/{order_id}/tca", "/v1/orders/{order_id}/tca.svg"}
        assert oid not in {o["order_id"] for o in bob.orders()}
        assert oid in {o["order_id"] for o in alice.orders()}
        # bob's client order id is his own: the same id as alice's makes a new order, not hers
        again = bob.submit("BTC/USDT", "buy", "0.01", type="limit", price="1000",
                           client_order_id="shared-id")
        theirs = alice.submit("BTC/USDT", "buy", "0.01", type="limit", price="1000", client_order_id="shared-id")
        assert again["order_id"] != theirs["order_id"]
        covered |= {"/v1/orders"}
        assert bob.positions() == [] and alice.positions() != []
        covered |= {"/v1/positions"}
        paths = httpx.get(f"{region.api}/openapi.json").json()["paths"]
        if "/v1/fills" in paths:
            assert bob.request("GET", "/v1/fills")["fills"] == [] and alice.request("GET", "/v1/fills")["fills"]
            assert bob.request("GET", "/v1/fills", params={"order_id": oid})["fills"] == []
            covered |= {"/v1/fills"}
        # algos: alice's is not there for bob
        assert [a["name"] for a in bob.algos()] == []
        for method, suffix in (("GET", ""), ("POST", "/start"), ("POST", "/stop"), ("DELETE", ""),
                               ("GET", "/logs")):
            refused(method, f"/v1/algos/alice-pinger{suffix}", 404, "ALGO_NOT_FOUND")
        got, body = status(bob, "POST", "/v1/algos", params={"name": "alice-pinger", "symbol": "BTC/USDT",
                                                             "edges": "binance"},
                           content=PINGER, headers={"Content-Type": "application/wasm"})
        assert (got, body["error"]["code"]) == (409, "ALGO_EXISTS")
        covered |= {"/v1/algos", "/v1/algos/{name}", "/v1/algos/{name}/start", "/v1/algos/{name}/stop",
                    "/v1/algos/{name}/logs"}
        # risk: his own; another's needs the admin role
        assert bob.risk()["usage"]["positions"] == {}
        refused("GET", "/v1/risk", 403, "FORBIDDEN", params={"client_id": "alice"})
        assert root.risk("alice")["usage"]["positions"]["BTC/USDT"]["position"] != "0"
        refused("POST", "/v1/risk/kill-switch", 403, "FORBIDDEN", json={"enabled": True, "scope": "region"})
        refused("POST", "/v1/risk/kill-switch", 403, "FORBIDDEN", json={"enabled": True, "client_id": "alice"})
        covered |= {"/v1/risk", "/v1/risk/kill-switch"}
        # the client registry is the admins'
        refused("GET", "/v1/clients", 403, "FORBIDDEN")
        refused("POST", "/v1/clients", 403, "FORBIDDEN", json={"client_id": "mallory", "role": "admin"})
        refused("GET", "/v1/clients/alice", 403, "FORBIDDEN")
        refused("DELETE", "/v1/clients/alice", 403, "FORBIDDEN")
        covered |= {"/v1/clients", "/v1/clients/{client_id}"}
        # what arrived from other regions: his own only (none here)
        assert bob.request("GET", "/v1/remote-orders") == []
        covered |= {"/v1/remote-orders"}
        # and alice's order is as she left it
        assert alice.order(oid)["state"] == "working"
        alice.cancel(oid)
        alice.cancel(theirs["order_id"])
        bob.cancel(again["order_id"])
        alice.delete_algo("alice-pinger")
    spec = httpx.get(f"{region.api}/openapi.json").json()
    unchecked = set(spec["paths"]) - covered - SHARED - PUBLIC - MONITORED - ELSEWHERE
    assert not unchecked, f"endpoints with no cross-client case here: {sorted(unchecked)}"


def test_kill_switches_scope_and_lifting_restarts_the_algos_they_stopped(region: Region,
                                                                         keys: dict[str, str]) -> None:
    with client(region, keys["alice"]) as alice, client(region, keys["bob"]) as bob, \
            client(region, keys["root"]) as root:
        a_order, b_order = far_limit(alice), far_limit(bob)
        alice.deploy_algo("alice-algo", PINGER, "BTC/USDT", ["binance"], start=True)
        bob.deploy_algo("bob-algo", PINGER, "BTC/USDT", ["binance"], start=True)

        # alice's own switch: her order and algo stop, bob's go on
        out = alice.kill_switch(True)
        assert (out["scope"], out["client_id"], out["orders_cancelled"], out["algos_stopped"]) == (
            "client", "alice", 1, 1)
        wait_until(lambda: alice.order(a_order["order_id"])["state"] == "canceled", 30, what="alice's cancel")
        assert bob.order(b_order["order_id"])["state"] == "working"
        assert algo(alice, "alice-algo")["desired"] == "Stopped" and algo(bob, "bob-algo")["desired"] == "Running"
        with pytest.raises(ApiError) as err:
            alice.submit("BTC/USDT", "buy", "0.001")
        assert (err.value.status, err.value.code) == (403, "KILL_SWITCH")
        assert alice.risk()["kill_switches"] == {"region": False, "client": True}
        assert bob.risk()["kill_switch"] is False
        # the region's (admin): bob's too
        out = root.kill_switch(True, scope="region")
        assert out["algos_stopped"] == 1  # bob's (alice's was stopped already)
        wait_until(lambda: bob.order(b_order["order_id"])["state"] == "canceled", 30, what="bob's cancel")
        assert "region" in algo(bob, "bob-algo")["halted"]
        with pytest.raises(ApiError) as err:
            bob.submit("BTC/USDT", "buy", "0.001")
        assert err.value.code == "KILL_SWITCH"
        # lifted: bob's algo runs again and no longer says a switch is on; alice's own switch still holds hers
        out = root.kill_switch(False, scope="region")
        assert out["algos_resumed"] == 1
        b = algo(bob, "bob-algo")
        assert b["desired"] == "Running" and b["halted"] is None
        wait_until(lambda: all(e["state"] == "Running" for e in algo(bob, "bob-algo")["edges"]), 30,
                   what="bob's algo running on its edge")
        a = algo(alice, "alice-algo")
        assert a["desired"] == "Stopped" and "alice" in a["halted"]
        cancel_me = far_limit(bob)  # bob trades again
        bob.cancel(cancel_me["order_id"])
    # kill -9 and a new CC on the same ledger: the clients made through the API and alice's switch are kept
    region.cc.kill()
    region.restart_cc()
    with client(region, keys["alice"]) as alice, client(region, keys["bob"]) as bob, \
            client(region, keys["root"]) as root:
        assert alice.risk()["kill_switches"] == {"region": False, "client": True}
        assert "alice" in algo(alice, "alice-algo")["halted"]
        # an admin lifts alice's switch for her: her algo runs again
        assert root.kill_switch(False, client_id="alice")["algos_resumed"] == 1
        assert algo(alice, "alice-algo")["halted"] is None
        assert alice.risk()["kill_switch"] is False
        alice.delete_algo("alice-algo")
        bob.delete_algo("bob-algo")


def test_a_client_beyond_its_request_rate_is_answered_429(region: Region) -> None:
    with CCClient(region.api) as dev:
        slow = dev.create_client("slow", requests_per_s=0.1)  # one request, then one per 10 s
    with client(region, slow["key"]) as c:
        assert c.whoami()["client_id"] == "slow"
        resp = c.http.get("/v1/orders")
        assert resp.status_code == 429 and resp.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(resp.headers["retry-after"]) <= 10
        with CCClient(region.api) as dev:  # one client's limit is not another's
            assert dev.whoami()["client_id"] == "dev"


def test_metrics_need_a_monitor_or_admin_key_and_a_monitor_reads_nothing_else(region: Region,
                                                                              keys: dict[str, str]) -> None:
    with CCClient(region.api) as dev:
        prom = dev.create_client("prom", "monitor")
    assert httpx.get(f"{region.api}/metrics").status_code == 401
    with client(region, keys["alice"]) as alice, client(region, prom["key"]) as monitor, \
            client(region, keys["root"]) as root:
        code, body = status(alice, "GET", "/metrics")
        assert (code, body["error"]["code"]) == (403, "FORBIDDEN") and "monitor" in body["error"]["message"]
        for c in (monitor, root):
            resp = c.http.get("/metrics")
            assert resp.status_code == 200 and "seqmesh_cc_edge_connected" in resp.text, resp.text[:200]
        for method, path in (("GET", "/v1/orders"), ("GET", "/v1/bbo"), ("GET", "/v1/clients/me"),
                             ("POST", "/v1/orders")):
            code, body = status(monitor, method, path, json={})
            assert (code, body["error"]["code"]) == (403, "FORBIDDEN"), (method, path, body)
    with pytest.raises(ConnectionError, match="FORBIDDEN"):  # nor the stream
        StreamClient(region.api, prom["key"])


def test_stream_messages_count_against_the_clients_request_rate(region: Region) -> None:
    with CCClient(region.api) as dev:
        slow = dev.create_client("slow-stream", requests_per_s=0.05)  # one, then one per 20 s
        many = dev.create_client("many-streams")
    with StreamClient(region.api, slow["key"]) as s:  # the connection took the one token
        s.send("ping", id="p1")
        refused = s.until(lambda m: m.get("type") in ("error", "pong"), 30)
        assert refused["type"] == "error" and refused["id"] == "p1", refused
        assert refused["error"]["code"] == "RATE_LIMITED" and 0 < refused["error"]["retry_after_s"] <= 20
        with client(region, slow["key"]) as c:  # one bucket for the stream and REST
            assert c.http.get("/v1/orders").status_code == 429
    opened = [StreamClient(region.api, many["key"]) for _ in range(8)]
    try:
        with pytest.raises(ConnectionError, match="TOO_MANY_STREAMS"):
            StreamClient(region.api, many["key"])
        with CCClient(region.api) as dev, StreamClient(region.api) as other:  # others are not held back
            assert other.welcome["client"] == dev.whoami()["client_id"]
    finally:
        for s in opened:
            s.close()


def test_unauthenticated_and_oversized_bodies_are_refused_unread(region: Region, tmp_path: Path) -> None:
    import socket

    host, port = region.api.removeprefix("http://").split(":")

    def first_answer(head: bytes, body_part: bytes) -> bytes:
        """Headers announcing a large body, a little of it, then read: the answer comes unread."""
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(head + body_part)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                assert chunk, f"closed without an answer: {data!r}"
                data += chunk
            return data

    big = b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n"
    answer = first_answer(big + b"\r\n", b"{" * 1000)
    assert answer.startswith(b"HTTP/1.1 401") and b"connection: close" in answer.lower()
    answer = first_answer(big + b"Authorization: Bearer seqmesh-dev-key\r\n\r\n", b"{" * 1000)
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
    chunked = (b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nAuthorization: Bearer seqmesh-dev-key\r\n\r\n")
    piece = b"%x\r\n%s\r\n" % (32768, b" " * 32768)
    answer = first_answer(chunked, piece * 3)  # 96 KiB of a never-ending body
    assert answer.startswith(b"HTTP/1.1 413")
    with CCClient(region.api) as dev:  # a body under the limit is read as before
        got, body = status(dev, "POST", "/v1/orders", content=b" " * 60_000 + b"{}",
                           headers={"Content-Type": "application/json"})
        assert got == 400 and body["error"]["code"] == "INVALID_REQUEST"


def test_the_order_path_answers_while_slow_connections_and_large_keyless_bodies_are_held(
        region: Region, keys: dict[str, str]) -> None:
    """A probe as an attacker runs it: many connections that never finish their headers, and
    requests announcing 200 MB bodies (without a key, or with one over the size limit) that keep
    sending. Each large one is answered at once from its headers, and meanwhile a client's orders
    and the health check are answered as usual."""
    import socket
    import threading

    host, port = region.api.removeprefix("http://").split(":")
    stop = threading.Event()
    answers: list[bytes] = []
    sockets: list[socket.socket] = []

    def slow() -> None:
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        sockets.append(s)

    def flood(auth: bytes) -> None:
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 209715200\r\n" + auth + b"\r\n" + b"[" * 65536)
            answers.append(s.recv(4096))
            chunk = b"[" * 65536
            try:
                while not stop.is_set():  # the rest of the body, until the server drops the connection
                    s.sendall(chunk)
            except OSError:
                pass

    for _ in range(200):
        slow()
    floods = [threading.Thread(target=flood, args=(auth,), daemon=True)
              for auth in [b""] * 8 + [f"Authorization: Bearer {keys['bob']}\r\n".encode()] * 4]
    try:
        for t in floods:
            t.start()
        with client(region, keys["alice"]) as alice:
            for _ in range(10):
                o = far_limit(alice)
                assert alice.cancel(o["order_id"])["state"] in ("pending_cancel", "canceled")
                assert alice.http.get("/healthz").status_code == 200
        wait_until(lambda: len(answers) == len(floods), 30, what="an answer to every large request")
        # the server drops each refused body with its connection instead of reading on
        wait_until(lambda: not any(t.is_alive() for t in floods), 30, what="every refused connection closed")
    finally:
        stop.set()
        for t in floods:
            t.join(30)
        for s in sockets:
            s.close()
    statuses = sorted(a.split(b" ", 2)[1].decode() for a in answers)
    assert statuses == ["401"] * 8 + ["413"] * 4, answers


def test_the_client_and_kill_switch_commands(region: Region) -> None:
    import subprocess
    import sys

    def seqmesh(*args: str, key: str = "seqmesh-dev-key", ok: bool = True) -> str:
        out = subprocess.run([sys.executable, "-m", "seqmesh", *args, "--api", region.api, "--key", key],
                             capture_output=True, text=True, timeout=60)
        assert (out.returncode == 0) == ok, f"seqmesh {' '.join(args)}: {out.stdout}{out.stderr}"
        return out.stdout if ok else out.stderr

    made = seqmesh("client", "add", "dana")
    key = made.split("key ", 1)[1].split()[0]
    assert "client dana (trader)" in made and key.startswith("smk_")
    assert "dana" in seqmesh("client", "whoami", key=key)
    assert "FORBIDDEN" in seqmesh("client", "ls", key=key, ok=False)
    assert "FORBIDDEN" in seqmesh("kill-switch", "on", "--region", key=key, ok=False)
    assert "dana's kill switch on" in seqmesh("kill-switch", "on", key=key)
    assert "dana's kill switch off" in seqmesh("kill-switch", "off", "--client", "dana")
    assert "dana" in seqmesh("client", "ls")
    seqmesh("client", "revoke", "dana")
    assert "UNAUTHORIZED" in seqmesh("client", "whoami", key=key, ok=False)
