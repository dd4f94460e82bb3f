"""A CC routing across an order book and a Uniswap V3 pool: binance (the simulator, its flow
still) and dex-arbitrum trading its V3 pools (`--uniswap v3`, nobody else swapping), their edges
and a CC, all real processes. The CC shows the pool's price from its PoolState; a large buy is
split between the book and the pool on the pool's V3 curve, and the pool's share settles on
chain at exactly the amount the router expected (the same state, the same integer swap)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from seqmesh.runtime.dex import v3math
from seqmesh.runtime.venues.chain.pools_v3 import read_v3_pool

from seqmesh.client.api import CCClient
from seqmesh.testing.dex import Chain, book_and_pool_region
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

SYMBOL = "BTC/USDT"
FINAL = ("filled", "canceled", "expired", "rejected")


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Chain, Region]]:
    with book_and_pool_region(tmp_path_factory.mktemp("pools-v3"), "--volatility-bps", "0",
                              "--taker-probability", "0", v3=True) as (api, arb, region):
        with CCClient(api) as c:
            wait_until(lambda: all(e["connected"] for e in c.edges())
                       and any(p["live"] and p["symbol"] == SYMBOL for p in c.request("GET", "/v1/pools")), 60,
                       what="both edges connected and the V3 pool live at the CC")
        yield api, arb, region


def _pool(c: CCClient) -> dict[str, Any]:
    return next(p for p in c.request("GET", "/v1/pools") if p["symbol"] == SYMBOL)


def test_a_large_buy_splits_between_the_book_and_the_v3_pool_and_settles_as_expected(
        market: tuple[str, Chain, Region]) -> None:
    api, arb, _ = market
    assert arb.v3 is not None
    pool = arb.v3.pool("WBTC", "USDT")
    state, _ = read_v3_pool(arb.w3, pool)
    base_is_token0 = pool.token0 == arb.d.token("WBTC").address
    with CCClient(api) as c:
        p = _pool(c)
        assert p["kind"] == "uniswap-v3" and p["fee"] == "0.0005" and p["tick"] == state.tick
        assert Decimal(p["mid"]) == v3math.mid_of(state.sqrt_price_x96, base_is_token0, 8, 6)
        pool_top = Decimal(p["mid"]) / Decimal("0.9995")  # the pool's first unit, fee in
        book = c.book(SYMBOL, depth=200)
        cheaper = sum((Decimal(lv["venues"]["binance"]) for lv in book["asks"]
                       if "binance" in lv["venues"] and Decimal(lv["price"]) * Decimal("1.001") < pool_top), Decimal(0))
        qty = (cheaper + Decimal("2")).quantize(Decimal("0.00001"))
        o = c.submit(SYMBOL, "buy", str(qty), "market", client_order_id="v3-split-1")
        wait_until(lambda: c.order(o["order_id"])["state"] in FINAL, 60, what="the split order to finish")
        done = c.order(o["order_id"])
        assert done["state"] == "filled" and Decimal(done["filled"]) == qty, done
        allocs = {a["venue"]: a for a in done["routing"]["allocations"]}
        assert set(allocs) == {"binance", "dex-arbitrum"}, done["routing"]  # split where the margins meet
        pooled = allocs["dex-arbitrum"]
        assert pooled["kind"] == "pool" and Decimal(pooled["qty"]) > 0
        fills = [f for f in done["fills"] if f["venue"] == "dex-arbitrum"]
        assert len(fills) == 1
        # nobody else swapped: the chain charged exactly what the router expected from the V3 math
        paid = Decimal(fills[0]["price"]) * Decimal(fills[0]["quantity"])
        assert abs(paid - Decimal(pooled["expected_notional"])) <= Decimal("0.000001"), (fills, pooled)
        expected_raw = v3math.quote_exact_output(state, not base_is_token0, int(Decimal(pooled["qty"]) * 10**8))
        assert Decimal(pooled["expected_notional"]) == Decimal(expected_raw) / 10**6
