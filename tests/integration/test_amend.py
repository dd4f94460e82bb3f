"""Amending a resting limit order, over real processes.

At an edge on the OKX dialect (ccxt's edit_order -> amend-order): quantity down keeps the order's
place in the queue, a new price loses it, refusals are clear, and an edge killed -9 while its
amend is at the venue learns the outcome from the venue. On the Binance dialect amend is refused
(cancel-replace is not an amend). Through the CC: PATCH /v1/orders/{id}."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.books import wait_live
from seqmesh.testing.frozen import FROZEN_SIM, client_arg
from seqmesh.testing.mesh import TEST_VENUES, Region
from seqmesh.testing.processes import wait_until
from seqmesh.testing.single_venue import OTHER_ACCOUNT, SingleVenue

SYMBOL = "BTC/USDT"
TICK = Decimal("0.01")
DEV_KEY = "seqmesh-dev-key"


async def _venue(tmp: Path, dialect: str, *sim_args: str) -> SingleVenue:
    return await asyncio.to_thread(SingleVenue, tmp, dialect, *sim_args)


@pytest.fixture
async def okx(tmp_path: Path) -> AsyncIterator[SingleVenue]:
    v = await _venue(tmp_path, "okx")
    yield v
    v.stop()


@pytest.fixture
async def taker(okx: SingleVenue) -> AsyncIterator[Any]:
    """The other side: a second account on the venue, through ccxt."""
    ex = okx.exchange(OTHER_ACCOUNT)
    await ex.load_markets()
    yield ex
    await ex.close()


@pytest.fixture
async def owner(okx: SingleVenue) -> AsyncIterator[Any]:
    """The edge's own account, through ccxt: what the venue holds of its orders."""
    ex = okx.exchange()
    await ex.load_markets()
    yield ex
    await ex.close()


def limit(cid: str, side: int, qty: str, price: Decimal) -> pb.SubmitOrder:
    return pb.SubmitOrder(client_order_id=cid, symbol=SYMBOL, side=side, type=pb.LIMIT, quantity=qty,
                          price=str(price), time_in_force=pb.GTC)


async def inside_bid(ex: Any) -> Decimal:
    """A buy price above the best bid and below the best ask: our orders alone are the best bid."""
    book = await ex.fetch_order_book(SYMBOL, 5)
    bid, ask = Decimal(str(book["bids"][0][0])), Decimal(str(book["asks"][0][0]))
    assert ask - bid > 3 * TICK, f"the frozen book's spread {bid}..{ask} leaves no room inside"
    return bid + TICK


async def until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        ok, last = await check()
        if ok:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"after {timeout}s, not {what}: last seen {last}")


async def test_amend_down_keeps_priority_and_a_new_price_loses_it(okx: SingleVenue, taker: Any,
                                                                  owner: Any) -> None:
    price = await inside_bid(taker)
    async with okx.client() as edge:
        first = await edge.submit(limit("amend-a", pb.BUY, "0.04", price))
        second = await edge.submit(limit("amend-b", pb.BUY, "0.02", price))
        assert first.state == second.state == pb.ACCEPTED
        ack = await edge.amend("amend-a", quantity="0.01")
        assert ack.amended and Decimal(ack.quantity) == Decimal("0.01") and ack.state == pb.ACCEPTED, ack
        venue = await owner.fetch_order(first.venue_order_id, SYMBOL)
        assert Decimal(venue["info"]["sz"]) == Decimal("0.01")
        # a taker selling 0.01 at our price fills the amended order: it kept its place ahead of the later one
        await taker.create_order(SYMBOL, "limit", "sell", "0.01", str(price), {"timeInForce": "IOC"})
        status = await until("amend-a filled", lambda: _state(edge, "amend-a", pb.FILLED))
        assert Decimal(status.filled_qty) == Decimal("0.01")
        assert Decimal((await edge.order("amend-b")).filled_qty) == 0
        # a new price (still inside the spread): the order goes to the back of that price's queue
        better = price + TICK
        third = await edge.submit(limit("amend-c", pb.BUY, "0.02", better))
        assert third.state == pb.ACCEPTED
        ack = await edge.amend("amend-b", price=str(better))
        assert ack.amended and Decimal(ack.price) == better, ack
        assert Decimal((await owner.fetch_order(second.venue_order_id, SYMBOL))["info"]["px"]) == better
        await taker.create_order(SYMBOL, "limit", "sell", "0.02", str(better), {"timeInForce": "IOC"})
        await until("amend-c filled", lambda: _state(edge, "amend-c", pb.FILLED))
        assert Decimal((await edge.order("amend-b")).filled_qty) == 0, "amend-b lost its place to amend-c"
        # refusals: a filled order, an unknown one, a quantity not above what filled, a bad number
        for cid, kw, words in (("amend-a", {"quantity": "0.02"}, "FILLED"), ("amend-b", {"quantity": "0"}, "above"),
                               ("amend-b", {"price": "abc"}, "decimal")):
            ack = await edge.amend(cid, **kw)
            assert not ack.amended and words in ack.reason, ack
        assert (await edge.amend("nope")).state == pb.ORDER_STATE_UNSPECIFIED
        assert (await edge.cancel("amend-b")).state == pb.CANCELED


async def _state(edge: Any, cid: str, state: int) -> tuple[bool, Any]:
    status = await edge.order(cid)
    return status.state == state, status


async def test_edge_killed_during_an_amend_learns_its_outcome_from_the_venue(tmp_path: Path) -> None:
    slow = await _venue(tmp_path, "okx", "--latency-ms", "1500")  # an amend is at the venue long enough to crash in
    try:
        ex = slow.exchange()
        try:
            price = await inside_bid(ex)
            async with slow.client() as edge:
                placed = await edge.submit(limit("crash-amend", pb.BUY, "0.05", price))
                assert placed.state == pb.ACCEPTED
                pending = asyncio.create_task(edge.amend("crash-amend", quantity="0.02"))
                journal = slow.tmp / "state" / "okx-orders.sqlite"
                await until("the amend journalled", lambda: _journalled(journal))
                await asyncio.sleep(0.3)
                await asyncio.to_thread(slow.restart_edge)  # kill -9 while the venue is answering
                pending.cancel()
            async with slow.client() as edge:
                status = await until("the venue's quantity adopted",
                                     lambda: _quantity(edge, "crash-amend", Decimal("0.02")))
                assert status.state == pb.ACCEPTED and Decimal(status.filled_qty) == 0
                venue = await ex.fetch_order(placed.venue_order_id, SYMBOL)
                assert Decimal(venue["info"]["sz"]) == Decimal("0.02")
                assert (await _journalled(journal))[1] == 0, "the journalled amend is settled"
                assert (await edge.cancel("crash-amend")).state == pb.CANCELED
        finally:
            await ex.close()
    finally:
        slow.stop()


async def _journalled(journal: Path) -> tuple[bool, int]:
    with sqlite3.connect(journal) as db:
        n = db.execute("SELECT COUNT(*) FROM amends").fetchone()[0]
    return n > 0, n


async def _quantity(edge: Any, cid: str, qty: Decimal) -> tuple[bool, Any]:
    status = await edge.order(cid)
    return Decimal(status.quantity) == qty, status


async def test_binance_refuses_amend(tmp_path: Path) -> None:
    v = await _venue(tmp_path, "binance")
    try:
        public = make_exchange("binance", sim_url=v.sim_url)
        try:
            price = await inside_bid(public)
        finally:
            await public.close()
        async with v.client() as edge:
            assert (await edge.submit(limit("bn-1", pb.BUY, "0.01", price))).state == pb.ACCEPTED
            ack = await edge.amend("bn-1", quantity="0.005")
            assert not ack.amended and "cancel-replace" in ack.reason and Decimal(ack.quantity) == Decimal("0.01")
            assert Decimal((await edge.order("bn-1")).quantity) == Decimal("0.01")
            assert (await edge.cancel("bn-1")).state == pb.CANCELED
    finally:
        v.stop()


# -- through the CC: PATCH /v1/orders/{id} ---------------------------------------------------------


@pytest.fixture(scope="module")
def okx_region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """A CC with one venue speaking the OKX dialect, on a frozen market."""
    r = Region(tmp_path_factory.mktemp("amend-cc"), venues={"okx": TEST_VENUES["okx"]},
               sim_args=(*FROZEN_SIM, "--dialect", "okx"), edge_args=("--sim-dialect", "okx"),
               cc_args=("--stale-after", "3600", "--client", client_arg("dev", DEV_KEY)))
    try:
        with CCClient(r.api, DEV_KEY) as c:
            wait_live(c, 1, SYMBOL)
        yield r
    finally:
        r.stop()


def test_patch_amends_a_resting_limit_order_in_place(okx_region: Region) -> None:
    with CCClient(okx_region.api, DEV_KEY) as api:
        (top,) = api.bbo(SYMBOL)
        bid, ask = Decimal(top["bid"]), Decimal(top["ask"])
        assert ask - bid > 3 * TICK, top
        order = api.submit(SYMBOL, "buy", "0.02", "limit", str(bid + TICK), client_order_id="cc-amend-1")
        oid = order["order_id"]
        wait_until(lambda: api.order(oid)["children"][0]["state"] == "ACCEPTED", 60, what="the child resting")
        amended = api.request("PATCH", f"/v1/orders/{oid}", json={"quantity": "0.01"})
        assert amended["quantity"] == "0.01" and amended["price"] == str(bid + TICK), amended
        (child,) = amended["children"]
        assert Decimal(child["quantity"]) == Decimal("0.01") and child["state"] == "ACCEPTED"
        amended = api.request("PATCH", f"/v1/orders/{oid}", json={"price": str(bid + 2 * TICK)})
        assert Decimal(amended["price"]) == bid + 2 * TICK
        assert Decimal(amended["children"][0]["price"]) == bid + 2 * TICK
        # what the ledger holds is what the CC answered (a restart reads it back)
        assert api.order(oid)["quantity"] == "0.01" and Decimal(api.order(oid)["price"]) == bid + 2 * TICK
        # refusals
        for body, status, code in (({}, 400, "INVALID_REQUEST"), ({"quantity": "-1"}, 400, None),
                                   ({"quantity": "0.0000001"}, 400, "PRECISION")):
            with pytest.raises(ApiError) as err:
                api.request("PATCH", f"/v1/orders/{oid}", json=body)
            assert err.value.status == status and (code is None or err.value.code == code), err.value.body
        with pytest.raises(ApiError) as err:
            api.request("PATCH", "/v1/orders/no-such-order", json={"quantity": "1"})
        assert err.value.status == 404
        api.cancel(oid)
        wait_until(lambda: api.order(oid)["state"] == "canceled", 60, what="the order cancelled")
        with pytest.raises(ApiError) as err:
            api.request("PATCH", f"/v1/orders/{oid}", json={"quantity": "0.005"})
        assert err.value.status == 409 and err.value.code == "NOT_AMENDABLE" and "canceled" in str(err.value)
        market = api.submit(SYMBOL, "buy", "0.001")
        with pytest.raises(ApiError) as err:
            api.request("PATCH", f"/v1/orders/{market['order_id']}", json={"quantity": "0.002"})
        assert err.value.status == 409 and err.value.code == "NOT_AMENDABLE", err.value.body


def test_cc_killed_during_an_amend_takes_the_order_terms_from_the_edge(tmp_path: Path) -> None:
    """The CC dies with the amend at a slow venue: the edge finishes it (or learns its outcome from
    the venue), and the CC started again books the order's new terms from the edge's events."""
    r = Region(tmp_path, venues={"okx": TEST_VENUES["okx"]},
               sim_args=(*FROZEN_SIM, "--dialect", "okx", "--latency-ms", "1000"), edge_args=("--sim-dialect", "okx"),
               cc_args=("--stale-after", "3600", "--client", client_arg("dev", DEV_KEY)))
    try:
        with CCClient(r.api, DEV_KEY) as api:
            wait_until(lambda: api.edges()[0]["connected"] and len(api.bbo(SYMBOL)) == 1
                       and api.bbo(SYMBOL)[0]["bid"] is not None, 90, what="the venue live with a bid")
            (top,) = api.bbo(SYMBOL)
            price = str(Decimal(top["bid"]) + TICK)
            oid = api.submit(SYMBOL, "buy", "0.03", "limit", price, client_order_id="cc-crash-amend")["order_id"]
            wait_until(lambda: api.order(oid)["children"][0]["state"] == "ACCEPTED", 60, what="the child resting")
        ledger = tmp_path / "cc.sqlite"
        patch = threading.Thread(target=_patch_ignoring_the_crash, args=(r.api, oid, {"quantity": "0.01"}))
        patch.start()
        wait_until(lambda: _ledger_has(ledger, "amend_requested", oid), 30, what="the amend written ahead")
        time.sleep(0.3)  # the edge has it; the venue answers in a second
        r.cc.kill()
        patch.join(60)
        r.restart_cc()
        with CCClient(r.api, DEV_KEY) as api:
            wait_until(lambda: api.order(oid)["quantity"] == "0.01", 90,
                       what=f"the amended quantity booked after the restart (is {api.order(oid)['quantity']})")
            order = api.order(oid)
            assert Decimal(order["children"][0]["quantity"]) == Decimal("0.01") and order["state"] == "working"
            assert order["fills"] == []
            api.cancel(oid)
    finally:
        r.stop()


def _patch_ignoring_the_crash(url: str, oid: str, body: dict[str, str]) -> None:
    with contextlib.suppress(Exception), CCClient(url, DEV_KEY) as api:  # the CC dies under it
        api.request("PATCH", f"/v1/orders/{oid}", json=body)


def _ledger_has(ledger: Path, kind: str, ref: str) -> bool:
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT 1 FROM events WHERE kind = ? AND ref = ?", (kind, ref)).fetchone() is not None
