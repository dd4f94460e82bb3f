"""One region end to end over real processes: three simulated venues, their edges and a CC."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.books import wait_live
from seqmesh.testing.mesh import Region, cc_tls_paths
from seqmesh.testing.orders import wait_final
from seqmesh.testing.processes import wait_until


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    # "crosser": another participant at the venues, to move a market into a resting order, with
    # the BTC to sell through however far above the order the market has drifted.
    r = Region(tmp_path_factory.mktemp("region"), sim_args=("--api-key", "crosser:crosser-secret",
                                                             "--balance", "BTC=100000"))
    with CCClient(r.api) as c:
        wait_live(c, 3)
    yield r
    r.stop()


@pytest.fixture
def api(region: Region) -> Iterator[CCClient]:
    with CCClient(region.api) as c:
        yield c



def test_market_data_endpoints(api: CCClient) -> None:
    rows = api.bbo("BTC/USDT")
    assert {r["venue"] for r in rows} == {"binance", "kraken", "okx"}
    for r in rows:
        assert Decimal(r["bid"]) < Decimal(r["ask"]) and isinstance(r["bid_f"], float)
        assert r["region"] == "local" and r["remote"] is False
        ts = r["ts"]
        assert 0 < ts["exchange_ts"] <= ts["edge_recv_ts"] + 1_000_000_000 and ts["edge_recv_ts"] <= ts["cc_proc_ts"]
    # The market moves between requests: compare an NBBO with the BBOs read just before and after
    # it, when those two agree (the book did not change in between).
    def tops(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(r["venue"], r["bid"], r["ask"]) for r in rows]

    def consistent() -> bool:
        before = api.bbo("BTC/USDT")
        n = api.nbbo("BTC-USDT")
        if tops(api.bbo("BTC/USDT")) != tops(before):
            return False
        assert Decimal(n["bid"]["price"]) == max(Decimal(r["bid"]) for r in before)
        assert Decimal(n["ask"]["price"]) == min(Decimal(r["ask"]) for r in before)
        return True

    wait_until(consistent, 30, what="an NBBO read while the book held still")
    book = api.book("BTC/USDT", 15)
    prices = [Decimal(lv["price"]) for lv in book["asks"]]
    assert prices == sorted(prices) and len(prices) == 15
    for lv in book["asks"]:
        assert sum(Decimal(q) for q in lv["venues"].values()) == Decimal(lv["qty"])
    wait_until(lambda: api.request("GET", "/v1/trades", params={"symbol": "BTC/USDT"}), 20, what="trades")
    trade = api.request("GET", "/v1/trades", params={"symbol": "BTC/USDT"})[-1]
    assert trade["venue"] in {"binance", "kraken", "okx"} and trade["ts"]["cc_proc_ts"] >= trade["ts"]["edge_recv_ts"]
    pairs = api.request("GET", "/v1/pairs")
    assert {"BTC/USDT", "ETH/USDT"} <= {p["symbol"] for p in pairs}
    assert api.request("GET", "/healthz")["edges_connected"] == 3
    assert "seqmesh_cc_edge_connected" in api.http.get("/metrics").text
    assert api.http.get("/openapi.json").json()["paths"]["/v1/orders"]


def test_large_market_order_is_split_filled_and_analysed(api: CCClient) -> None:
    tops = {r["venue"]: Decimal(r["ask_qty"]) for r in api.bbo("BTC/USDT")}
    qty = Decimal("4")
    assert qty > max(tops.values()), "the order must be larger than any single venue's top of book"
    before = {p["symbol"]: Decimal(p["qty"]) for p in api.positions()}
    for attempt in range(3):
        # The split is the router's answer to three live books: on a loaded machine a feed can go
        # stale between our look and the order, leaving fewer candidates (not what is tested).
        wait_live(api, 3)
        o = api.submit("BTC/USDT", "buy", str(qty), client_order_id=f"split-{attempt}")
        route = o["routing"]
        if len(route["venues"]) == 3:
            break
        wait_final(api, o["order_id"])
        before = {p["symbol"]: Decimal(p["qty"]) for p in api.positions()}
    assert len(route["venues"]) == 3, route
    # Whether splitting pays depends on how deep the cheapest venue's book is at this instant: the
    # router must do at least as well as any single venue, and route to one only when it is the best.
    allocated = {a["venue"] for a in route["allocations"] if Decimal(a["qty"]) > 0}
    assert len(allocated) >= 2 or allocated == {route["best_single_venue"]}, route
    assert Decimal(route["expected_routed_cost"]) <= min(
        Decimal(v["cost"]) for v in route["single_venue"].values() if "cost" in v)
    o = wait_final(api, o["order_id"])
    assert o["state"] == "filled" and Decimal(o["filled"]) == qty
    assert {f["venue"] for f in o["fills"]} <= {v["venue"] for v in route["venues"]}
    assert len({f["fill_id"] for f in o["fills"]}) == len(o["fills"])
    after = {p["symbol"]: Decimal(p["qty"]) for p in api.positions()}
    assert after["BTC/USDT"] - before.get("BTC/USDT", Decimal(0)) == sum(Decimal(f["quantity"]) for f in o["fills"])
    t = api.tca(o["order_id"])
    for venue, v in t["venues"].items():
        mine = [f for f in o["fills"] if f["venue"] == venue]
        assert Decimal(v["qty"]) == sum(Decimal(f["quantity"]) for f in mine)
        assert Decimal(v["notional"]) == sum(Decimal(f["price"]) * Decimal(f["quantity"]) for f in mine)
    assert Decimal(t["filled"]) == qty and t["arrival_mid"] and "arrival_slippage_bps" in t
    assert t["single_venue"]["venue"] in tops and "saving" in t["single_venue"]
    # The fills against the route's own decision-time prices: the plan is the allocations' notional
    # and fees, and the shortfall is what the fills cost beyond it.
    taking = [a for a in route["allocations"] if not a["resting"]]
    planned = sum(Decimal(a["expected_notional"]) + Decimal(a["expected_fee"]) for a in taking)
    assert Decimal(t["execution"]["expected_cost"]) == planned
    assert Decimal(t["execution"]["shortfall"]) == Decimal(t["routed_cost"]) - planned
    # Resubmitting the same client order id returns the same order.
    again = api.submit("BTC/USDT", "buy", str(qty), client_order_id=o["client_order_id"])
    assert again["order_id"] == o["order_id"]


async def _sell_down_to(url: str, price: Decimal) -> None:
    """An IOC sell at `price` for every bid at or above it (with room for quotes that move)."""
    ex = make_exchange("binance", sim_url=url, api_key="crosser", secret="crosser-secret")
    try:
        await ex.load_markets()
        book = await ex.fetch_order_book("BTC/USDT", 100)
        qty = sum(Decimal(str(q)) for p, q in book["bids"] if Decimal(str(p)) >= price)
        size = ex.amount_to_precision("BTC/USDT", float(qty * 2 + Decimal("0.01")))
        await ex.create_order("BTC/USDT", "limit", "sell", size, str(price), {"timeInForce": "IOC"})
    finally:
        await ex.close()


def test_limit_order_rests_then_fills_when_the_market_crosses(api: CCClient, region: Region) -> None:
    box: dict[str, Any] = {}

    def price_it() -> bool:
        # One tick above kraken's bid (kraken has the lowest maker fee, so the rest goes there),
        # or, when another venue's ask is lower than that (the venues' books drift apart), a tick
        # under the lowest ask: not marketable anywhere either way, whatever the market does.
        rows = {r["venue"]: r for r in api.bbo("BTC/USDT")}
        if any(r["bid"] is None or r["ask"] is None for r in rows.values()):
            return False
        lowest_ask = min(Decimal(r["ask"]) for r in rows.values())
        box["price"] = min(Decimal(rows["kraken"]["bid"]) + Decimal("0.01"), lowest_ask - Decimal("0.01"))
        return True

    for _attempt in range(3):
        wait_until(price_it, 20, what="both sides of every venue's book")
        o = api.submit("BTC/USDT", "buy", "0.002", type="limit", price=str(box["price"]))
        if o["state"] == "working":
            break
        wait_final(api, o["order_id"])  # the market moved into it while we submitted: try again
    assert o["state"] == "working", o
    assert [c["venue"] for c in o["children"]] == ["kraken"]
    for _attempt in range(4):
        try:
            o = wait_final(api, o["order_id"], 10)  # the simulated flow usually trades into it
            break
        except TimeoutError:
            # The market drifted away: another participant sells down through our price.
            asyncio.run(_sell_down_to(region.sims["kraken"][1], box["price"]))
    assert o["state"] == "filled", o
    assert all(f["liquidity"] == "maker" and Decimal(f["price"]) <= box["price"] for f in o["fills"])


def test_cancel_a_resting_order(api: CCClient) -> None:
    far = Decimal(api.nbbo("BTC/USDT")["bid"]["price"]) * Decimal("0.8")
    o = api.submit("BTC/USDT", "buy", "0.01", type="limit", price=str(far.quantize(Decimal("0.01"))))
    wait_until(lambda: api.order(o["order_id"])["children"][0]["state"] == "ACCEPTED", 30, what="accepted")
    c = api.cancel(o["order_id"])
    assert c["state"] in ("pending_cancel", "canceled")
    o = wait_final(api, o["order_id"])
    assert o["state"] == "canceled" and all(ch["state"] == "CANCELED" for ch in o["children"])
    with pytest.raises(ApiError) as err:
        api.cancel(o["order_id"])
    assert err.value.status == 409 and err.value.code == "NOT_CANCELABLE"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"symbol": "DOGE/USDT", "side": "buy", "quantity": "1"}, 400, "UNKNOWN_SYMBOL"),
    ({"symbol": "BTC/USDT", "side": "buy", "quantity": "0"}, 400, "NON_POSITIVE_QUANTITY"),
    ({"symbol": "BTC/USDT", "side": "buy", "quantity": "-1"}, 400, "NON_POSITIVE_QUANTITY"),
    ({"symbol": "BTC/USDT", "side": "buy", "quantity": "1", "type": "limit"}, 400, "LIMIT_WITHOUT_PRICE"),
    ({"symbol": "BTC/USDT", "side": "buy", "quantity": "0.0000001"}, 400, "PRECISION"),
    ({"symbol": "BTC/USDT", "side": "buy", "quantity": "0.1", "type": "limit", "price": "100.001"}, 400, "PRECISION"),
    ({"symbol": "BTC/USDT", "side": "buy", "quantity": 0.1}, 400, "INVALID_REQUEST"),
    ({"symbol": "BTC/USDT", "side": "hold", "quantity": "1"}, 400, "INVALID_REQUEST"),
])
def test_bad_input_is_refused_and_changes_nothing(api: CCClient, body: dict[str, Any], status: int,
                                                 code: str) -> None:
    before = api.orders()
    resp = api.http.post("/v1/orders", json=body)
    assert resp.status_code == status and resp.json()["error"]["code"] == code, resp.text
    assert api.orders() == before


def test_unauthenticated_and_foreign_orders(region: Region) -> None:
    with CCClient(region.api, key="nobody") as c:
        with pytest.raises(ApiError) as err:
            c.orders()
        assert err.value.status == 401
        with pytest.raises(ApiError) as err:
            c.order("doesnotexist")
        assert err.value.status == 401


class Flood:
    """Market orders of 0.5 ETH/USDT, alternately buy and sell, one after another on a thread,
    until `stop`; returns once some are acknowledged, so that what follows happens mid-flow."""

    def __init__(self, r: Region, prefix: str, n: int = 40) -> None:
        with CCClient(r.api) as c:
            wait_live(c, 3, "ETH/USDT")
        self.ids = [f"{prefix}-{i}" for i in range(n)]
        self.acked: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(r.api,))
        self.thread.start()
        wait_until(lambda: len(self.acked) >= 8, 30, interval=0.002, what="some orders acknowledged")

    def _run(self, api: str) -> None:
        with CCClient(api, timeout=5) as c:
            for i, cid in enumerate(self.ids):
                if self.stop.is_set():
                    return
                try:
                    self.acked.append(c.submit("ETH/USDT", "buy" if i % 2 else "sell", "0.5", client_order_id=cid))
                except Exception:
                    return  # the CC died under us


def resubmit_and_check(r: Region, ids: list[str]) -> list[dict[str, Any]]:
    """The client retries every order with its id; then each is filled exactly once, positions
    equal the fills, and the ledger holds exactly the fills the edges recorded."""
    with CCClient(r.api) as c:
        for i, cid in enumerate(ids):
            c.submit("ETH/USDT", "buy" if i % 2 else "sell", "0.5", client_order_id=cid)
        orders = [o for o in c.orders() if o["client_order_id"] in ids]
        assert len(orders) == len(ids)
        finals = [wait_final(c, o["order_id"]) for o in orders]
        assert all(o["state"] == "filled" for o in finals), [o["state"] for o in finals]
        fills = [f for o in finals for f in o["fills"]]
        assert len({f["fill_id"] for f in fills}) == len(fills)
        net = sum(Decimal(f["quantity"]) * (1 if o["side"] == "buy" else -1) for o in finals for f in o["fills"])
        pos = {p["symbol"]: Decimal(p["qty"]) for p in c.positions()}
        assert pos.get("ETH/USDT", Decimal(0)) == net
    edge_fills = asyncio.run(_edge_fills(r, [ch["child_id"] for o in finals for ch in o["children"]]))
    assert sorted(edge_fills) == sorted(f["fill_id"] for f in fills)
    return finals


def test_cc_kill_9_mid_flow_loses_no_fill(tmp_path: Path) -> None:
    # Five final orders in memory: the rest of the checks (resubmits by client order id, order
    # lookups, fills, positions) read the older ones from the ledger.
    r = Region(tmp_path, cc_args=("--final-orders-in-memory", "5"))
    try:
        flood = Flood(r, "crash")
        r.cc.kill()  # kill -9 while orders are arriving and fills are streaming back
        flood.stop.set()
        flood.thread.join(10)
        r.restart_cc()
        resubmit_and_check(r, flood.ids)
        with CCClient(r.api) as c:
            assert [o["order_id"] for o in c.orders(limit=3)] == [
                o["order_id"] for o in c.orders() if o["client_order_id"] in flood.ids][-3:]
    finally:
        r.stop()


def test_edge_kill_9_under_the_cc_loses_and_duplicates_no_fill(tmp_path: Path) -> None:
    r = Region(tmp_path)
    try:
        flood = Flood(r, "edge-crash")
        victim = flood.acked[-1]["children"][0]["venue"]  # the edge the router is sending to now
        r.restart_edge(victim)  # kill -9 with orders in flight to it; back on the same port
        flood.thread.join(60)
        finals = resubmit_and_check(r, flood.ids)
        assert any(f["venue"] == victim for o in finals for f in o["fills"])
    finally:
        r.stop()


async def _edge_fills(r: Region, child_ids: list[str]) -> list[str]:
    tls = TlsFiles(*cc_tls_paths(r.tmp))
    out: list[str] = []
    for _, addr in r.edges.values():
        async with EdgeClient(addr, tls) as client:
            for cid in child_ids:
                try:
                    status = await client.order(cid)
                except Exception:
                    continue
                out += [f.fill_id for f in status.fills]
    return out


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    r = Region(tmp_path_factory.mktemp("strict"), cc_args=(
        "--max-position", "BTC/USDT=5", "--max-order-notional", "400000", "--daily-loss-limit", "50",
        "--max-orders-per-s", "0.2", "--order-burst", "6"))  # a token per 5 s: a slow machine's loop gets few
    with CCClient(r.api) as c:
        wait_live(c, 3)
    yield r
    r.stop()


def denied(c: CCClient, code: str, **order: Any) -> dict[str, Any]:
    before = c.orders()
    with pytest.raises(ApiError) as err:
        c.submit(**order)
    assert err.value.status == 403 and err.value.code == code, err.value.body
    assert c.orders() == before, "a denied order must leave no trace in the ledger"
    body: dict[str, Any] = err.value.body["error"]
    assert body["limit"] and body["message"]
    return body


def tokens(c: CCClient, n: float) -> None:
    wait_until(lambda: c.risk()["usage"]["order_tokens_left"] >= n, 40, what="order-rate tokens")


def test_every_risk_denial(strict: Region) -> None:
    with CCClient(strict.api) as c:
        body = denied(c, "MAX_ORDER_NOTIONAL", symbol="BTC/USDT", side="buy", quantity="8")
        assert body["limit"] == "400000"
        body = denied(c, "POSITION_LIMIT", symbol="BTC/USDT", side="buy", quantity="5.5", type="limit",
                      price="30000")
        assert body["limit"] == "5"
        # Order rate: the burst of 6 goes through, the next is throttled (one more per 5 s the loop takes).
        tokens(c, 6)
        resting = []
        with pytest.raises(ApiError) as err:
            for _ in range(12):
                resting.append(c.submit("BTC/USDT", "buy", "0.001", type="limit", price="30000")["order_id"])
        assert err.value.code == "ORDER_RATE" and 6 <= len(resting) <= 8, len(resting)
        # Kill switch: resting orders are cancelled, new ones refused, until it is turned off.
        out = c.kill_switch(True)
        assert out["orders_cancelled"] == len(resting)
        for oid in resting:
            assert wait_final(c, oid)["state"] == "canceled"
        assert c.risk()["kill_switch"] is True
        denied(c, "KILL_SWITCH", symbol="BTC/USDT", side="buy", quantity="0.001")
        c.kill_switch(False)
        tokens(c, 3)
        # Daily loss: a round trip of 0.5 BTC pays two taker fees (~58 USDT) and the spread, beyond the
        # 50 USDT allowed unless the market moved our way meanwhile: then small round trips until it is.
        qty = "0.5"
        for _ in range(20):
            if Decimal(c.risk()["usage"]["pnl"]) < -50:
                break
            for side in ("buy", "sell"):
                tokens(c, 1)
                assert wait_final(c, c.submit("BTC/USDT", side, qty)["order_id"])["state"] == "filled"
                if Decimal(c.risk()["usage"]["pnl"]) < -50:
                    break
            qty = "0.05"
        assert Decimal(c.risk()["usage"]["pnl"]) < -50
        denied(c, "DAILY_LOSS_LIMIT", symbol="BTC/USDT", side="buy", quantity="0.001")


def test_a_silent_venue_goes_stale_and_leaves_nbbo_and_routing(tmp_path: Path) -> None:
    r = Region(tmp_path, cc_args=("--stale-after", "1.5"))
    try:
        with CCClient(r.api) as c:
            wait_live(c, 3)
            r.sims["okx"][0].kill()  # the venue dies: its edge's feed stops
            wait_until(lambda: {b["venue"]: b["stale"] for b in c.bbo("BTC/USDT")}["okx"], 30, what="okx stale")
            n = c.nbbo("BTC/USDT")
            assert "okx" in n["stale_venues"] and "okx" not in n["venues"]
            assert "okx" not in {lv_venue for lv in c.book("BTC/USDT", 10)["asks"] for lv_venue in lv["venues"]}
            o = c.submit("BTC/USDT", "buy", "3")
            assert "okx" not in {ch["venue"] for ch in o["children"]}
            assert wait_final(c, o["order_id"])["state"] == "filled"
    finally:
        r.stop()


def test_a_cancel_sent_while_the_edge_is_down_reaches_it_when_it_is_back(api: CCClient, region: Region) -> None:
    far = Decimal(api.nbbo("BTC/USDT")["bid"]["price"]) * Decimal("0.8")
    o = api.submit("BTC/USDT", "buy", "0.01", type="limit", price=str(far.quantize(Decimal("0.01"))))
    wait_until(lambda: api.order(o["order_id"])["children"][0]["state"] == "ACCEPTED", 20, what="resting")
    venue = o["children"][0]["venue"]
    region.edges[venue][0].kill()  # kill -9: the CC's link to it drops
    wait_until(lambda: not next(e for e in api.edges() if e["venue"] == venue)["connected"], 30, what="link down")
    assert api.cancel(o["order_id"])["state"] == "pending_cancel"  # the cancel cannot reach the edge now
    region.start_edge(venue)  # back on its port, with its journal
    done = wait_final(api, o["order_id"], 60)
    assert done["state"] == "canceled" and done["children"][0]["state"] == "CANCELED", done
