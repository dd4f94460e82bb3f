"""A CC routing across an order book and an AMM pool: a CEX venue (the simulator, its flow
still so only our orders trade) and dex-arbitrum (a real anvil with Uniswap V2, nobody else
swapping), their edges and a CC, all real processes.

The CC holds the pool's state and the chain's gas from the DEX edge's stream; a large buy is
split between the book and the pool where their marginal costs meet; the pool's share settles
on chain at exactly the amount the router expected (the same reserves, the same integer math);
TCA shows the pool's gas and price impact; a small order stays off the pool (its gas)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from seqmesh.client.api import CCClient
from seqmesh.testing.dex import Chain, book_and_pool_region
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

SYMBOL = "BTC/USDT"
FINAL = ("filled", "canceled", "expired", "rejected")


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Chain, Region]]:
    with book_and_pool_region(tmp_path_factory.mktemp("pools"), "--volatility-bps", "0",
                              "--taker-probability", "0") as (api, arb, region):
        with CCClient(api) as c:
            wait_until(lambda: all(e["connected"] for e in c.edges())
                       and any(p["live"] and p["symbol"] == SYMBOL for p in c.request("GET", "/v1/pools")), 60,
                       what="both edges connected and the pools live at the CC")
        yield api, arb, region


def _pool(c: CCClient) -> dict[str, Any]:
    return next(p for p in c.request("GET", "/v1/pools") if p["symbol"] == SYMBOL)


def test_the_cc_holds_the_pools_and_their_gas_as_the_chain_has_them(market: tuple[str, Chain, Region]) -> None:
    api, arb, _ = market
    base_r, quote_r = arb.reserves("WBTC")
    with CCClient(api) as c:
        p = _pool(c)
        assert p["venue"] == "dex-arbitrum" and p["kind"] == "uniswap-v2" and p["fee"] == "0.003"
        assert Decimal(p["base_reserve"]) == Decimal(base_r).scaleb(-8)
        assert Decimal(p["quote_reserve"]) == Decimal(quote_r).scaleb(-6)
        assert p["gas"]["chain"] == "arbitrum" and Decimal(p["gas"]["swap_cost_quote"]) > 0
        assert p["ts"]["exchange_ts"] > 0 and p["ts"]["cc_proc_ts"] >= p["ts"]["edge_recv_ts"] > 0
        # nobody swaps, so this automine chain makes no block: its edge still says, every second,
        # that the last block is the latest, and the pool stays live past the CC's 3 s limit
        block = p["block"]
        time.sleep(4)
        again = _pool(c)
        assert again["live"] and again["block"] == block, again


def test_a_large_buy_splits_between_the_book_and_the_pool_and_the_pool_settles_as_expected(
        market: tuple[str, Chain, Region]) -> None:
    api, _, _ = market
    with CCClient(api) as c:
        p = _pool(c)
        pool_top = Decimal(p["mid"]) * 1000 / 997  # the pool's first unit, fee in
        book = c.book(SYMBOL, depth=200)
        # what binance offers below the pool's first unit (its fee in): the order takes that and more
        cheaper = sum((Decimal(lv["venues"]["binance"]) for lv in book["asks"]
                       if "binance" in lv["venues"] and Decimal(lv["price"]) * Decimal("1.001") < pool_top), Decimal(0))
        qty = (cheaper + Decimal("1")).quantize(Decimal("0.00001"))
        o = c.submit(SYMBOL, "buy", str(qty), "market", client_order_id="split-1")
        wait_until(lambda: c.order(o["order_id"])["state"] in FINAL, 60, what="the split order to finish")
        done = c.order(o["order_id"])
        assert done["state"] == "filled" and Decimal(done["filled"]) == qty, done
        allocs = {a["venue"]: a for a in done["routing"]["allocations"]}
        assert set(allocs) == {"binance", "dex-arbitrum"}, done["routing"]
        pooled = allocs["dex-arbitrum"]
        assert pooled["kind"] == "pool" and Decimal(pooled["expected_gas"]) > 0
        child = next(ch for ch in done["children"] if ch["venue"] == "dex-arbitrum")
        fills = [f for f in done["fills"] if f["venue"] == "dex-arbitrum"]
        assert len(fills) == 1 and fills[0]["fill_id"].startswith("dex-arbitrum:BTC/USDT:0x")
        # nobody else swapped: the chain charged exactly what the router expected from the pool math
        paid = Decimal(fills[0]["price"]) * Decimal(fills[0]["quantity"])
        assert abs(paid - Decimal(pooled["expected_notional"])) <= Decimal("0.000001"), (fills, pooled)
        assert Decimal(child["filled"]) == Decimal(pooled["qty"])
        # the gas, valued in USDT (not at the BTC price), and the impact, per pool in TCA
        assert fills[0]["fee_asset"] == "USDT" and Decimal(fills[0]["fee"]) < 5
        venue = c.tca(o["order_id"])["venues"]["dex-arbitrum"]
        assert Decimal(venue["gas"]) == Decimal(fills[0]["fee"])
        assert Decimal(venue["price_impact_bps"]) > 0


def test_a_small_order_is_not_worth_the_pools_gas(market: tuple[str, Chain, Region]) -> None:
    api, _, _ = market
    with CCClient(api) as c:
        o = c.submit(SYMBOL, "buy", "0.0002", "market", client_order_id="small-1")
        wait_until(lambda: c.order(o["order_id"])["state"] in FINAL, 60, what="the small order to finish")
        done = c.order(o["order_id"])
        assert done["state"] == "filled"
        assert {a["venue"] for a in done["routing"]["allocations"]} == {"binance"}
        pool = next(v for v in done["routing"]["venues"] if v["venue"] == "dex-arbitrum")
        assert pool["kind"] == "pool" and Decimal(pool["gas_cost"]) > 0
