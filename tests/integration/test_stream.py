"""The CC's WebSocket stream over real processes: three simulated venues on a frozen market (no
random walk, no takers: prices move only when our orders take liquidity), their edges, a CC with
two clients."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from seqmesh.client.api import CCClient
from seqmesh.client.stream import StreamClient, StreamGap
from seqmesh.testing.algos import build
from seqmesh.testing.frozen import frozen_region
from seqmesh.testing.mesh import Region

OTHER_KEY = "other-client-key"
ADMIN_KEY = "stream-admin-key"
RUN = uuid.uuid4().hex[:8]  # client order ids of this run


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    with frozen_region(tmp_path_factory.mktemp("stream"), {"dev": "seqmesh-dev-key", "other": OTHER_KEY},
                       admins={"root": ADMIN_KEY}) as r:
        yield r


@pytest.fixture
def api(region: Region) -> Iterator[CCClient]:
    with CCClient(region.api) as c:
        yield c


def _of(kind: str, **match: Any) -> Any:
    return lambda m: m["type"] == kind and all(m.get(k) == v for k, v in match.items())


def _until_filled(s: StreamClient, order_id: str, seen: list[dict[str, Any]],
                  timeout: float = 30) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read `s` (into `seen`) until the order is filled and all its fills came: (its views, its fills)."""
    def mine() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return ([m["order"] for m in seen if m["type"] == "order" and m["order"]["order_id"] == order_id],
                [m["fill"] for m in seen if m["type"] == "fill" and m["fill"]["order_id"] == order_id])

    def done() -> bool:
        orders, fills = mine()
        return bool(orders) and orders[-1]["state"] == "filled" and \
            sum(Decimal(f["quantity"]) for f in fills) == Decimal(orders[-1]["filled"])

    if not done():  # (a stream order's events may all come before its ack)
        s.until(lambda m: seen.append(m) or done(), timeout)
    return mine()


def test_prices_and_own_orders_and_fills_from_rest_and_stream(region: Region, api: CCClient) -> None:
    with StreamClient(region.api) as s, StreamClient(region.api, OTHER_KEY) as other:
        assert s.welcome["client"] == "dev" and other.welcome["client"] == "other"
        s.subscribe("prices", symbols=["BTC-USDT"])
        s.subscribe("orders")
        s.subscribe("fills")
        other.subscribe("orders")
        other.subscribe("fills")
        first = s.until(_of("prices", symbol="BTC/USDT"), 30)
        assert {b["venue"] for b in first["bbo"]} == {"binance", "kraken", "okx"}
        assert Decimal(first["nbbo"]["ask"]["price"]) == min(Decimal(b["ask"]) for b in first["bbo"])
        snap = s.until(_of("snapshot", channel="orders"), 30)
        assert snap["epoch"] == s.welcome["epoch"]
        start = snap["event_seq"]

        # over REST: a buy larger than the best venue's top
        top = Decimal(first["nbbo"]["ask"]["qty"])
        rest = api.submit("BTC/USDT", "buy", str(top + Decimal("0.01")), client_order_id=f"stream-rest-{RUN}")
        seen: list[dict[str, Any]] = []
        orders, fills = _until_filled(s, rest["order_id"], seen)
        assert orders[0]["state"] in ("new", "working", "partially_filled", "filled")
        assert sum(Decimal(f["quantity"]) for f in fills) == Decimal(rest["quantity"])
        assert {f["fill_id"] for f in fills} == {f["fill_id"] for f in api.order(rest["order_id"])["fills"]}
        # the venues it took from show their new tops (nothing else moves a frozen market)
        def tops(m: dict[str, Any]) -> dict[str, tuple[str, str]]:
            return {b["venue"]: (b["ask"], b["ask_qty"]) for b in m["bbo"]}

        took = {f["venue"] for f in fills}
        moved = [m for m in seen if m["type"] == "prices" and all(tops(m)[v] != tops(first)[v] for v in took)]
        if not moved:
            s.until(lambda m: m["type"] == "prices" and all(tops(m)[v] != tops(first)[v] for v in took), 30)

        # over the stream: the ack is the REST answer's document; its events follow on the same connection
        seen = []
        order = {"symbol": "BTC/USDT", "side": "sell", "quantity": "0.02", "client_order_id": f"stream-ws-{RUN}"}
        ack = s.submit(order, seen=seen)
        assert ack["type"] == "ack" and ack["status"] == 201, ack
        assert ack["order"]["client_order_id"] == f"stream-ws-{RUN}" and ack["order"]["routing"]["allocations"]
        assert api.order(ack["order"]["order_id"])["order_id"] == ack["order"]["order_id"]
        again = s.submit(order, seen=seen)
        assert again["status"] == 200 and again["order"]["order_id"] == ack["order"]["order_id"]
        orders, fills = _until_filled(s, ack["order"]["order_id"], seen)
        assert sum(Decimal(f["quantity"]) for f in fills) == Decimal("0.02")
        assert {f["fill_id"] for f in fills} == {f["fill_id"] for f in api.order(ack["order"]["order_id"])["fills"]}

        # the same refusals as REST, by code
        bad = s.submit({"symbol": "BTC/USDT", "side": "buy", "quantity": "-1"})
        assert bad["type"] == "error" and bad["status"] == 400 and bad["error"]["code"] == "NON_POSITIVE_QUANTITY"
        limitless = s.submit({"symbol": "BTC/USDT", "side": "buy", "quantity": "0.01", "type": "limit"})
        assert limitless["error"]["code"] == "LIMIT_WITHOUT_PRICE"

        # the other client saw none of it
        other.send("ping", id="p")
        others: list[dict[str, Any]] = []
        other.until(_of("pong", id="p"), 30, others)
        assert [m for m in others if m["type"] in ("order", "fill")] == []

        # resuming: a new connection after the snapshot's event_seq gets every event since, in order
        with StreamClient(region.api) as again_s:
            again_s.subscribe("orders", after=start, epoch=s.welcome["epoch"])
            head = again_s.until(_of("subscribed", channel="orders"), 30)
            replayed = [again_s.recv(30) for _ in range(head["replayed"])]
            assert [m["event_seq"] for m in replayed] == list(range(start + 1, head["event_seq"] + 1))
            ids = {m["order"]["order_id"] for m in replayed}
            assert {rest["order_id"], ack["order"]["order_id"]} <= ids
            # from another epoch (another CC process), or from before what is kept: a resync snapshot
            again_s.subscribe("fills", after=1, epoch="not-this-one")
            resync = again_s.until(_of("resync", channel="fills"), 30)
            assert resync["event_seq"] >= len(fills)


def test_bad_key_and_bad_messages(region: Region) -> None:
    with pytest.raises(ConnectionError, match="UNAUTHORIZED"):
        StreamClient(region.api, "not-a-key")
    with StreamClient(region.api) as s:
        s.send("subscribe", channel="nope")
        assert s.until(_of("error"), 30)["error"]["code"] == "INVALID_MESSAGE"
        s.subscribe("prices", symbols=["DOGE/EUR"])
        assert s.until(_of("error"), 30)["error"]["code"] == "UNKNOWN_SYMBOL"
        s.ws.send("{not json")
        assert "not JSON" in s.until(_of("error"), 30)["error"]["message"]
        s.subscribe("books", symbols=["BTC/USDT"], depth=5)
        book = s.until(_of("book", symbol="BTC/USDT"), 30)
        assert len(book["asks"]) == 5 and Decimal(book["asks"][0]["price"]) < Decimal(book["asks"][1]["price"])


def test_a_slow_reader_is_dropped_to_resync_while_others_keep_going(region: Region, api: CCClient) -> None:
    # A reader that takes nothing: a small receive window, and its client library stops reading
    # once it holds one message (no keepalive either: it would close the connection itself). It
    # asks for a snapshot of every symbol's prices, again and again, which the CC queues for it.
    # Its own client, with a request rate its 3000 asks stay within (a stream's messages draw on
    # the client's request bucket: beyond it they would be refused, not queued).
    with CCClient(region.api, ADMIN_KEY) as root:
        flood = root.create_client(f"flood-{RUN}", requests_per_s=1_000_000)
    sock = socket.create_connection(("127.0.0.1", int(region.api.rsplit(":", 1)[1])))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow = StreamClient(region.api, flood["key"], sock=sock, max_queue=1, ping_interval=None)
    try:
        with StreamClient(region.api) as normal:
            normal.subscribe("orders")
            normal.until(_of("snapshot", channel="orders"), 30)
            for _ in range(3000):
                slow.subscribe("prices")
            # meanwhile orders are placed over REST and another client's stream follows them
            deadline = time.monotonic() + 60
            n = 0
            while (n < 3 or not _dropped(region)) and time.monotonic() < deadline:
                n += 1
                t0 = time.monotonic()
                o = api.submit("BTC/USDT", "buy" if n % 2 else "sell", "0.01", client_order_id=f"slow-{RUN}-{n}")
                assert time.monotonic() - t0 < 10, "the REST order path stalled"
                normal.until(lambda m, oid=o["order_id"]: m["type"] == "order" and m["order"]["order_id"] == oid, 30)
            assert _dropped(region), f"the slow reader was never dropped ({n} orders placed meanwhile)"
        # once it reads, it finds what was sent before the drop, a gap, `resync`, and the close.
        # The ~1.6 MB in the kernels' buffers come through a window opened wide again (the clamp
        # was set by the 4 KB buffer at connect): a few KB per delayed ACK took 40 s, 75 s loaded.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP, 65535)
        messages: list[dict[str, Any]] = []
        gap = None
        while True:
            try:
                messages.append(slow.recv(30))
            except StreamGap as exc:
                gap = exc
                messages.append(exc.message)
            except ConnectionClosed:
                break
        assert gap is not None and messages[-1]["type"] == "resync", messages[-3:]
        assert gap.message is messages[-1]
        assert slow.ws.close_code == 4000
    finally:
        slow.close()


def _dropped(region: Region) -> bool:
    """The CC has dropped a stream connection for falling behind (its Prometheus counter, read
    with the admin's key: /metrics is not a trader's)."""
    with CCClient(region.api, ADMIN_KEY) as c:
        resp = c.http.get("/metrics")
    assert resp.status_code == 200, resp.text
    text = resp.text
    return any(line.startswith("seqmesh_cc_stream_dropped_total ") and float(line.split()[1]) > 0
               for line in text.splitlines())


def _seqmesh(region: Region, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "seqmesh", *args, "--api", region.api], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_cli_watch_and_preview(region: Region, api: CCClient) -> None:
    watch = _seqmesh(region, "watch", "orders", "--count", "3", "--seconds", "60")
    try:
        # the watcher is subscribed once its snapshot line is out (its first line)
        assert watch.stdout is not None
        first = watch.stdout.readline()
        assert "working order(s); events from" in first, first + (watch.stderr.read() if watch.stderr else "")
        o = api.submit("BTC/USDT", "buy", "0.01", client_order_id=f"cli-{RUN}")
        out, err = watch.communicate(timeout=60)
    finally:
        watch.kill()
    lines = out.splitlines()
    assert watch.returncode == 0 and len(lines) == 2, (out, err)
    assert all(f"order {o['order_id']} buy 0.01 BTC/USDT market" in line for line in lines)
    preview = subprocess.run([sys.executable, "-m", "seqmesh", "preview", "BTC/USDT", "sell", "0.05", "--api",
                              region.api], capture_output=True, text=True, timeout=60)
    assert preview.returncode == 0, preview.stderr
    assert "sell 0.05 BTC/USDT: routed 0.05" in preview.stdout and "cost vs mid" in preview.stdout
    refused = subprocess.run([sys.executable, "-m", "seqmesh", "preview", "BTC/USDT", "sell", "-1", "--api",
                              region.api], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "NON_POSITIVE_QUANTITY" in refused.stderr


def test_trades_and_algo_status(region: Region, api: CCClient) -> None:
    wasm = build()["market-maker"].read_bytes()
    with StreamClient(region.api) as s, StreamClient(region.api, OTHER_KEY) as other:
        s.subscribe("trades", symbols=["BTC/USDT"])
        s.until(_of("subscribed", channel="trades"), 30)
        o = api.submit("BTC/USDT", "buy", "0.02", client_order_id=f"trade-{RUN}")
        trade = s.until(_of("trade", symbol="BTC/USDT"), 30)
        assert trade["venue"] in {f["venue"] for f in api.order(o["order_id"])["fills"]}, trade
        s.subscribe("algos")
        other.subscribe("algos")
        name = f"mm-{RUN}"
        api.deploy_algo(name, wasm, "BTC/USDT", ["binance"], start=False)
        seen = s.until(lambda m: m["type"] == "algo" and m["algo"]["name"] == name, 30)["algo"]
        assert seen["desired"] == "Stopped" and [e["edge"] for e in seen["edges"]] == ["binance"]
        api.start_algo(name)
        s.until(lambda m: m["type"] == "algo" and m["algo"]["name"] == name and m["algo"]["state"] == "Running", 30)
        api.delete_algo(name)
        s.until(lambda m: m["type"] == "algo" and m["algo"]["name"] == name and m["algo"]["state"] == "Removed", 30)
        # another client's algo is not in its stream
        other.send("ping", id="algos")
        others: list[dict[str, Any]] = []
        other.until(_of("pong", id="algos"), 30, others)
        assert not [m for m in others if m["type"] == "algo" and m["algo"]["name"] == name]


def test_a_revoked_clients_stream_is_told_and_closed(region: Region) -> None:
    with CCClient(region.api, ADMIN_KEY) as admin:
        made = admin.create_client(f"doomed-{RUN}")
        with StreamClient(region.api, made["key"]) as s, StreamClient(region.api, OTHER_KEY) as other:
            s.subscribe("prices", symbols=["BTC/USDT"])
            other.subscribe("prices", symbols=["BTC/USDT"])
            s.until(_of("prices", symbol="BTC/USDT"), 30)
            admin.revoke_client(f"doomed-{RUN}")
            told = s.until(_of("error"), 30)
            assert told["error"]["code"] == "UNAUTHORIZED" and "revoked" in told["error"]["message"], told
            with pytest.raises(ConnectionClosed) as closed:
                s.until(lambda m: False, 30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001, closed.value
            # another client's stream goes on
            other.until(_of("prices", symbol="BTC/USDT"), 30)
            other.send("ping", id="after-revoke")
            other.until(_of("pong", id="after-revoke"), 30)
