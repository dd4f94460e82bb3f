"""Previews, quotes and fills over real processes: on a frozen market (no random walk, no
takers, no requote within the test's orders) a preview is what the order then does."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.frozen import frozen_region
from seqmesh.testing.mesh import Region

FINAL = ("filled", "canceled", "expired", "rejected")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    with frozen_region(tmp_path_factory.mktemp("preview"), {"dev": "seqmesh-dev-key"}) as r:
        yield r


@pytest.fixture
def api(region: Region) -> Iterator[CCClient]:
    with CCClient(region.api) as c:
        yield c


def _books_seen(routing: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The venues' tops the router saw (its explanation)."""
    return [(v["venue"], v["top_price"], v["top_qty"]) for v in routing["venues"]]


def _allocations(routing: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: a[k] for k in ("venue", "qty", "expected_notional", "expected_fee", "expected_avg_price", "resting")}
            for a in routing["allocations"]]


def _fills_by_venue(order: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per venue: quantity, notional and fees in the quote (a base-asset fee at its fill's price)."""
    out: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    base = order["symbol"].split("/")[0]
    for f in order["fills"]:
        q, n, fee = out.get(f["venue"], (Decimal(0), Decimal(0), Decimal(0)))
        price = Decimal(f["price"])
        out[f["venue"]] = (q + Decimal(f["quantity"]), n + price * Decimal(f["quantity"]),
                           fee + Decimal(f["fee"]) * (price if f["fee_asset"] == base else 1))
    return out


def _final(api: CCClient, order_id: str) -> dict[str, Any]:
    for _ in range(300):
        o = api.order(order_id)
        if o["state"] in FINAL:
            return o
        api.http.get("/healthz")  # a short pause through the API itself
    raise AssertionError(f"order {order_id} is still {o['state']}")


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_preview_is_what_the_order_then_does(api: CCClient, side: str) -> None:
    nbbo = api.nbbo("BTC/USDT")
    top = Decimal(nbbo["ask" if side == "buy" else "bid"]["qty"])
    qty = str(top + Decimal("0.3"))  # more than the best venue's top: the router splits or walks
    before = {p["symbol"]: p["qty"] for p in api.positions()}
    orders_before = len(api.orders())
    for attempt in range(3):
        preview = api.request("POST", "/v1/orders/preview", json={"symbol": "BTC-USDT", "side": side, "quantity": qty})
        assert {p["symbol"]: p["qty"] for p in api.positions()} == before
        assert len(api.orders()) == orders_before, "a preview placed nothing"
        order = api.submit("BTC/USDT", side, qty, client_order_id=f"after-preview-{side}-{attempt}")
        orders_before += 1
        if _books_seen(order["routing"]) == _books_seen(preview["routing"]):
            break
        _final(api, order["order_id"])  # the makers requoted in between (once a minute): again
        before = {p["symbol"]: p["qty"] for p in api.positions()}
    else:
        raise AssertionError("the books moved between every preview and its order")
    assert _allocations(order["routing"]) == _allocations(preview["routing"])
    assert Decimal(preview["routed_qty"]) == Decimal(qty) and Decimal(preview["unallocated"]) == 0
    assert len({a["venue"] for a in preview["routing"]["allocations"]}) >= 1
    # the expected cost against the mid, from the allocations
    sign = 1 if side == "buy" else -1
    notional = sum(Decimal(a["expected_notional"]) for a in preview["routing"]["allocations"])
    fees = sum(Decimal(a["expected_fee"]) for a in preview["routing"]["allocations"])
    mid = Decimal(nbbo["mid"])
    assert Decimal(preview["mid"]) == mid
    assert Decimal(preview["expected_avg_price"]) == notional / Decimal(qty)
    all_in = (notional + sign * fees) / Decimal(qty)
    assert Decimal(preview["cost_bps_vs_mid"]) == round(sign * (all_in - mid) / mid * 10_000, 4)
    assert Decimal(preview["cost_bps_vs_mid"]) > Decimal(preview["price_bps_vs_mid"]) > 0
    # and the order did exactly that: per venue the quantity, notional and fee the preview expected
    o = _final(api, order["order_id"])
    assert o["state"] == "filled"
    fills = _fills_by_venue(o)
    expected = {a["venue"]: a for a in preview["routing"]["allocations"]}
    assert {v: (q, n) for v, (q, n, _) in fills.items()} == {
        v: (Decimal(a["qty"]), Decimal(a["expected_notional"])) for v, a in expected.items()}
    for venue, (_, _, fee) in fills.items():  # the venue rounds its fee (to 8 places, in its asset)
        assert abs(fee - Decimal(expected[venue]["expected_fee"])) <= Decimal("0.0001") * fee, (venue, fee)


def test_limit_preview_rests_and_refusals(api: CCClient) -> None:
    bid = Decimal(api.nbbo("BTC/USDT")["bid"]["price"])
    p = api.request("POST", "/v1/orders/preview", json={"symbol": "BTC/USDT", "side": "buy", "quantity": "0.1",
                                                         "type": "limit", "price": str(bid - 100)})
    assert p["routed_qty"] == "0" and p["resting_qty"] == "0.1" and p["expected_avg_price"] is None
    # it would wait at the venue with the lowest maker fee (kraken's, of the test venues)
    assert [(a["venue"], a["resting"]) for a in p["routing"]["allocations"]] == [("kraken", True)]
    for body, code in [({"symbol": "BTC/USDT", "side": "buy", "quantity": "1", "type": "twap",
                         "params": {"duration_s": 60}}, "INVALID_REQUEST"),
                       ({"symbol": "BTC/USDT", "side": "buy", "quantity": "1.5e3"}, "INVALID_REQUEST"),
                       ({"symbol": "BTC/USDT", "side": "buy", "quantity": "0"}, "NON_POSITIVE_QUANTITY"),
                       ({"symbol": "DOGE/EUR", "side": "buy", "quantity": "1"}, "UNKNOWN_SYMBOL")]:
        with pytest.raises(ApiError) as refused:
            api.request("POST", "/v1/orders/preview", json=body)
        assert refused.value.code == code, (body, refused.value.body)


def test_quotes_both_sides_and_beyond_the_books(api: CCClient) -> None:
    q = api.request("GET", "/v1/quotes/BTC-USDT", params={"qty": "0.2"})
    nbbo = api.nbbo("BTC/USDT")
    assert q["symbol"] == "BTC/USDT"
    assert Decimal(q["buy"]["expected_avg_price"]) >= Decimal(nbbo["ask"]["price"])
    assert Decimal(q["sell"]["expected_avg_price"]) <= Decimal(nbbo["bid"]["price"])
    assert Decimal(q["buy"]["routed_qty"]) == Decimal(q["sell"]["routed_qty"]) == Decimal("0.2")
    one = api.request("GET", "/v1/quotes/BTC/USDT", params={"qty": "0.2", "side": "buy"})
    assert "sell" not in one or one["sell"] is None
    huge = api.request("GET", "/v1/quotes/BTC/USDT", params={"qty": "100000", "side": "sell"})["sell"]
    assert Decimal(huge["unallocated"]) > 0 and Decimal(huge["routed_qty"]) + Decimal(huge["unallocated"]) == 100000
    with pytest.raises(ApiError) as refused:
        api.request("GET", "/v1/quotes/BTC/USDT", params={"qty": "-1"})
    assert refused.value.code == "NON_POSITIVE_QUANTITY"


def test_fills_paged_and_filtered(api: CCClient) -> None:
    o = _final(api, api.submit("ETH/USDT", "buy", "3")["order_id"])
    assert o["state"] == "filled" and len(o["fills"]) >= 2, o["fills"]
    page = api.request("GET", "/v1/fills", params={"order_id": o["order_id"]})
    assert [f["fill_id"] for f in page["fills"]] == [f["fill_id"] for f in o["fills"]]
    assert all(f["order_id"] == o["order_id"] and f["symbol"] == "ETH/USDT" for f in page["fills"])
    walked, after = [], 0
    while True:
        p = api.request("GET", "/v1/fills", params={"symbol": "ETH-USDT", "limit": 1, "after": after})
        walked += p["fills"]
        after = p["next"]
        if not p["more"]:
            break
    assert {f["fill_id"] for f in o["fills"]} <= {f["fill_id"] for f in walked}
    assert len({f["fill_id"] for f in walked}) == len(walked) and all(f["symbol"] == "ETH/USDT" for f in walked)
    positions = [f["position"] for f in walked]
    assert positions == sorted(positions)
    everything = api.request("GET", "/v1/fills", params={"limit": 1000})["fills"]
    assert {f["symbol"] for f in everything} >= {"ETH/USDT"}
    with CCClient(api.http.base_url.__str__(), "another-key") as stranger, pytest.raises(ApiError) as refused:
        stranger.request("GET", "/v1/fills")
    assert refused.value.status == 401
