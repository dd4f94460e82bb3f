"""The router with AMM pools: exact curve costs, splits at equal marginal price, gas as a fixed
cost that keeps a pool out of orders too small to pay for it, caps and limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from seqmesh.runtime.cc.domain import Side
from seqmesh.runtime.cc.routing.amm import PoolCurve
from seqmesh.runtime.cc.routing.sor import Router, VenueCandidate
from seqmesh.runtime.dex.v2math import get_amount_in, get_amount_out

LOT, TICK = Decimal("0.00001"), Decimal("0.01")
# 50 BTC against 3.25M USDT: mid 65000 (WBTC 8 decimals, USDT 6)
POOL = dict(base_reserve=50 * 10**8, quote_reserve=3_250_000 * 10**6, base_decimals=8, quote_decimals=6)


def pool(venue: str = "dex-arbitrum", gas: str = "0.05", cap: Decimal | None = None, **kw: int) -> VenueCandidate:
    curve = PoolCurve(**{**POOL, **kw}, gas_cost=Decimal(gas), pool="0xpool")
    return VenueCandidate(venue, lambda i: None, Decimal(0), Decimal(0), 0.0, LOT, LOT, Decimal(0), TICK,
                          balance_cap=cap, curve=curve)


def book(venue: str, levels: list[tuple[str, str]], fee: str = "0.001") -> VenueCandidate:
    lv = [(Decimal(p), Decimal(q)) for p, q in levels]
    return VenueCandidate(venue, lambda i: lv[i] if i < len(lv) else None, Decimal(fee), Decimal("0.0008"), 0.0,
                          LOT, LOT, Decimal("5"), TICK)


def router() -> Router:
    return Router(Decimal(0))  # no latency cost: the tests see the curve and the fees alone


def test_a_pool_alone_costs_exactly_what_the_pair_contract_charges() -> None:
    r = router().route(Side.BUY, Decimal("0.5"), [pool(gas="0")])
    [a] = r.allocations
    assert a.qty == Decimal("0.5")
    assert a.notional == Decimal(get_amount_in(50_000_000, POOL["quote_reserve"], POOL["base_reserve"])).scaleb(-6)
    s = router().route(Side.SELL, Decimal("0.5"), [pool(gas="0")])
    assert s.allocations[0].notional == Decimal(
        get_amount_out(50_000_000, POOL["base_reserve"], POOL["quote_reserve"])).scaleb(-6)
    summary = r.summary()["allocations"][0]
    assert summary["kind"] == "pool" and Decimal(summary["expected_price_impact_bps"]) > 30  # 0.3% fee + impact


def test_a_large_order_splits_where_the_pool_and_the_book_cost_the_same_at_the_margin() -> None:
    cex = book("coinbase", [("65300", "0.5"), ("65400", "100")])
    r = router().route(Side.BUY, Decimal("3"), [cex, pool(gas="1")])
    got = {a.venue: a for a in r.allocations}
    assert set(got) == {"coinbase", "dex-arbitrum"} and r.unallocated == 0
    assert sum(a.qty for a in r.allocations) == Decimal("3")
    # The pool took until its next unit would cost about what the book's next level does (fee in).
    curve = pool().curve
    assert curve is not None
    margin = curve.marginal(True, float(got["dex-arbitrum"].qty))
    assert 65400 * 1.001 - 2 <= margin <= 65400 * 1.001 + 2
    # and the split is cheaper than either venue alone
    cost = sum(a.net(Side.BUY) for a in r.allocations)
    for venue, alone in r.single_venue.items():
        if "cost" in alone:
            assert cost < Decimal(alone["cost"]), venue


def test_gas_keeps_a_pool_out_of_an_order_too_small_to_pay_for_it() -> None:
    cex = book("coinbase", [("65300", "1"), ("66000", "10")])
    small = Decimal("0.01")
    cheap = router().route(Side.BUY, small, [cex, pool(gas="0")])
    assert {a.venue for a in cheap.allocations} == {"dex-arbitrum"}  # 65000 / 0.997 < 65300 x 1.001
    dear = router().route(Side.BUY, small, [cex, pool(gas="20")])
    assert {a.venue for a in dear.allocations} == {"coinbase"}
    assert next(v for v in dear.explanation if v["venue"] == "dex-arbitrum")["excluded"]
    big = router().route(Side.BUY, Decimal("5"), [cex, pool(gas="20")])
    assert "dex-arbitrum" in {a.venue for a in big.allocations}  # large enough to be worth the gas
    pooled = sum(a.net(Side.BUY) for a in big.allocations)
    alone = router().route(Side.BUY, Decimal("5"), [cex])
    assert pooled < sum(a.net(Side.BUY) for a in alone.allocations)


def test_selling_into_a_pool_and_a_book() -> None:
    cex = book("kraken", [("64900", "0.5"), ("64500", "100")])
    r = router().route(Side.SELL, Decimal("3"), [cex, pool(gas="1")])
    assert {a.venue for a in r.allocations} == {"kraken", "dex-arbitrum"}
    proceeds = sum(a.net(Side.SELL) for a in r.allocations)
    alone = router().route(Side.SELL, Decimal("3"), [cex])
    assert proceeds > sum(a.net(Side.SELL) for a in alone.allocations)


def test_a_limit_stops_the_pool_at_its_price_and_never_rests_there() -> None:
    r = router().route(Side.BUY, Decimal("10"), [pool(gas="0")], limit=Decimal("66000"))
    [a] = [a for a in r.allocations if not a.resting]
    curve = pool().curve
    assert curve is not None
    assert curve.marginal(True, float(a.qty) - 0.0001) <= 66000 + 1  # stopped at the limit
    assert r.unallocated > 0 and not any(a.resting for a in r.allocations)  # nowhere to rest


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_the_balance_cap_bounds_the_swap_gas_included(side: Side) -> None:
    cap = Decimal("32600") if side is Side.BUY else Decimal("0.5")
    r = router().route(side, Decimal("2"), [pool(gas="3", cap=cap)])
    [a] = r.allocations
    if side is Side.BUY:
        assert a.notional + a.fee <= cap < a.notional + a.fee + Decimal(66) * LOT * 1000
    else:
        assert a.qty == Decimal("0.5")


def test_a_pool_never_gives_more_than_its_reserve() -> None:
    r = router().route(Side.BUY, Decimal("100"), [pool(gas="0")])
    assert r.allocations[0].qty < Decimal(50) and r.unallocated > Decimal(50)


def test_two_pools_at_one_price_share_a_large_order_in_a_bounded_walk() -> None:
    """At equal marginal prices the walk alternates between pools in steps of a share of the
    order (not a raw unit each: this decision used to run for minutes)."""
    r = router().route(Side.BUY, Decimal("40"), [pool("dex-base", gas="0"), pool("dex-optimism", gas="0")])
    got = {a.venue: a.qty for a in r.allocations}
    assert r.unallocated == 0 and set(got) == {"dex-base", "dex-optimism"}
    assert abs(got["dex-base"] - got["dex-optimism"]) <= Decimal("40") / 256 * 2
