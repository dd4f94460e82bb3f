"""Fill-or-kill and post-only orders over real processes.

Through the CC (three Binance-dialect venues on a frozen market): a FOK goes whole to one venue
that can fill it, or is refused with nothing placed; a post-only order rests where it would not
cross, or is refused with nothing placed. At an edge (the venue's own say, when the CC's view was
behind it): Binance refuses a crossing post-only order (-2010), OKX ends it unfilled (cancelSource
31), and on both a post-only order that does not cross rests as a maker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.frozen import frozen_region
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until
from seqmesh.testing.single_venue import SingleVenue

FINAL = ("filled", "canceled", "expired", "rejected")
LOT = Decimal("0.001")
SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    with frozen_region(tmp_path_factory.mktemp("kinds"), {"dev": "seqmesh-dev-key"}) as r:
        yield r


@pytest.fixture
def api(region: Region) -> Iterator[CCClient]:
    with CCClient(region.api) as c:
        yield c


def tops(api: CCClient, side: str) -> dict[str, tuple[Decimal, Decimal]]:
    """venue -> (price, size) at the top of its `side` ("bid" or "ask")."""
    return {b["venue"]: (Decimal(b[side]), Decimal(b[f"{side}_qty"])) for b in api.bbo(SYMBOL)}


def place(api: CCClient, **body: Any) -> Any:
    return api.request("POST", "/v1/orders", json={"symbol": SYMBOL, "type": "limit", **body})


def final(api: CCClient, order_id: str) -> Any:
    seen: list[Any] = [api.order(order_id)]

    def done() -> bool:
        seen[0] = api.order(order_id)
        return bool(seen[0]["state"] in FINAL)

    try:
        wait_until(done, 60, what=f"order {order_id} final")
    except TimeoutError:
        raise AssertionError(f"order {order_id} still {seen[0]['state']}: {seen[0]}") from None
    return seen[0]


def positions(api: CCClient) -> dict[str, str]:
    return {p["symbol"]: p["qty"] for p in api.positions()}


def test_fok_that_one_venue_can_fill_fills_there_whole(api: CCClient) -> None:
    asks = tops(api, "ask")
    best = min(p for p, _ in asks.values())
    qty = min(q for p, q in asks.values() if p == best)  # every venue at the best ask has this much
    order = place(api, side="buy", quantity=str(qty), price=str(best), time_in_force="fok", client_order_id="fok-ok")
    assert order["time_in_force"] == "fok"
    done = final(api, order["order_id"])
    assert done["state"] == "filled", done
    (child,) = done["children"]
    assert child["state"] == "FILLED" and Decimal(child["quantity"]) == qty
    assert {f["venue"] for f in done["fills"]} == {child["venue"]}
    assert sum(Decimal(f["quantity"]) for f in done["fills"]) == qty
    assert all(Decimal(f["price"]) <= best and f["liquidity"] == "taker" for f in done["fills"])


def test_fok_that_no_single_venue_can_fill_is_refused_with_nothing_placed(api: CCClient) -> None:
    asks = tops(api, "ask")
    best = min(p for p, _ in asks.values())
    # one lot more than any venue has at or under the limit (only top levels are at the best ask)
    qty = max(q for p, q in asks.values() if p == best) + LOT
    before, orders_before = positions(api), len(api.orders())
    with pytest.raises(ApiError) as err:
        place(api, side="buy", quantity=str(qty), price=str(best), time_in_force="fok")
    assert err.value.status == 409 and err.value.code == "CANNOT_FILL_ENTIRELY", err.value.body
    assert positions(api) == before and len(api.orders()) == orders_before
    assert tops(api, "ask") == asks, "nothing traded at any venue"


def test_post_only_that_would_not_cross_rests_at_the_cheapest_maker_venue(api: CCClient) -> None:
    bids = tops(api, "bid")
    price = max(p for p, _ in bids.values())  # joins the best bid: crosses no ask anywhere
    order = place(api, side="buy", quantity="0.01", price=str(price), post_only=True, client_order_id="po-rest")
    assert order["time_in_force"] == "post_only"
    wait_until(lambda: api.order(order["order_id"])["children"][0]["state"] == "ACCEPTED", 60,
               what="the post-only child resting")
    (child,) = api.order(order["order_id"])["children"]
    assert child["venue"] == "kraken"  # the lowest maker fee (TEST_VENUES), and its limit crosses nothing there
    joined = bids["kraken"][1] if bids["kraken"][0] == price else Decimal(0)
    wait_until(lambda: tops(api, "bid")["kraken"] == (price, joined + Decimal("0.01")), 60,
               what=f"kraken's best bid to be {price} x {joined + Decimal('0.01')}")
    # Binance spot has no amend that keeps the order: refused, the order as it was
    with pytest.raises(ApiError) as err:
        api.request("PATCH", f"/v1/orders/{order['order_id']}", json={"quantity": "0.005"})
    assert err.value.status == 409 and err.value.code == "AMEND_REFUSED" and "cancel-replace" in str(err.value)
    assert api.order(order["order_id"])["quantity"] == "0.01"
    api.cancel(order["order_id"])
    done = final(api, order["order_id"])
    assert done["state"] == "canceled" and done["fills"] == []


def test_post_only_that_would_cross_everywhere_is_refused_with_nothing_placed(api: CCClient) -> None:
    asks = tops(api, "ask")
    price = max(p for p, _ in asks.values())  # at or through every venue's best ask
    before, orders_before = positions(api), len(api.orders())
    with pytest.raises(ApiError) as err:
        place(api, side="buy", quantity="0.01", price=str(price), post_only=True)
    assert err.value.status == 409 and err.value.code == "POST_ONLY_WOULD_TAKE", err.value.body
    assert positions(api) == before and len(api.orders()) == orders_before
    assert tops(api, "ask") == asks


@pytest.mark.parametrize("body", [
    {"type": "market", "time_in_force": "fok"},
    {"type": "market", "post_only": True},
    {"type": "limit", "price": "1000", "post_only": True, "time_in_force": "fok"},
    {"type": "twap", "post_only": True},
])
def test_fok_and_post_only_only_on_a_limit_alone(api: CCClient, body: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as err:
        api.request("POST", "/v1/orders", json={"symbol": SYMBOL, "side": "buy", "quantity": "0.01", **body})
    assert err.value.status == 400 and err.value.code in ("LIMIT_ONLY", "INVALID_REQUEST"), err.value.body
    assert "fok" in str(err.value) or "post" in str(err.value)


# -- at an edge: the venue's own answer -----------------------------------------------------------


@pytest.fixture(params=["binance", "okx"])
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SingleVenue]:
    v = await asyncio.to_thread(SingleVenue, tmp_path, request.param)
    yield v
    v.stop()


def post_only(cid: str, side: int, price: Decimal) -> pb.SubmitOrder:
    return pb.SubmitOrder(client_order_id=cid, symbol=SYMBOL, side=side, type=pb.LIMIT, quantity="0.01",
                          price=str(price), time_in_force=pb.POST_ONLY)


async def test_post_only_at_the_venue_rests_or_never_trades(venue: SingleVenue) -> None:
    public = make_exchange(venue.dialect, sim_url=venue.sim_url, dialect=venue.dialect)
    try:
        book = await public.fetch_order_book(SYMBOL, 5)
    finally:
        await public.close()
    bid, ask = Decimal(str(book["bids"][0][0])), Decimal(str(book["asks"][0][0]))
    async with venue.client() as client:
        # through the ask: Binance refuses it outright, OKX takes it and ends it unfilled at once
        ack = await client.submit(post_only("po-cross", pb.BUY, ask))
        if venue.dialect == "binance":
            assert ack.state == pb.REJECTED and "would immediately match" in ack.reason, ack
        else:
            wait_s = 0.0
            while (status := await client.order("po-cross")).state != pb.EXPIRED and wait_s < 60:
                await asyncio.sleep(0.2)
                wait_s += 0.2
            assert status.state == pb.EXPIRED, status
        status = await client.order("po-cross")
        assert Decimal(status.filled_qty) == 0 and not status.fills
        # under the ask: rests at the venue, untouched
        ack = await client.submit(post_only("po-rest", pb.BUY, bid))
        assert ack.state == pb.ACCEPTED and ack.venue_order_id, ack
        assert (await client.order("po-rest")).state == pb.ACCEPTED
        assert (await client.cancel("po-rest")).state == pb.CANCELED


def cli(region: Region, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seqmesh", *args, "--api", region.api, "--key", "seqmesh-dev-key"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_the_cli_places_post_only_and_says_why_an_amend_or_a_crossing_one_is_refused(region: Region,
                                                                                     api: CCClient) -> None:
    bid = max(p for p, _ in tops(api, "bid").values())
    ask = max(p for p, _ in tops(api, "ask").values())
    placed = cli(region, "buy", SYMBOL, "0.01", "--limit", str(bid), "--tif", "post_only", "--client-order-id",
                 "cli-po", "--wait", "0")
    assert placed.returncode == 0, placed.stderr
    order = next(o for o in api.orders() if o.get("client_order_id") == "cli-po")
    assert order["time_in_force"] == "post_only" and order["price"] == str(bid), order
    amended = cli(region, "amend", order["order_id"], "--quantity", "0.005")
    assert amended.returncode != 0 and "AMEND_REFUSED" in amended.stderr + amended.stdout, amended
    crossing = cli(region, "buy", SYMBOL, "0.01", "--limit", str(ask), "--tif", "post_only", "--wait", "0")
    assert crossing.returncode != 0 and "POST_ONLY_WOULD_TAKE" in crossing.stderr + crossing.stdout, crossing
    no_limit = cli(region, "buy", SYMBOL, "0.01", "--tif", "fok")
    assert no_limit.returncode != 0 and "needs a --limit" in no_limit.stderr, no_limit
    api.cancel(order["order_id"])
    assert final(api, order["order_id"])["state"] == "canceled"
