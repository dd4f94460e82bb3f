"""The router on a Uniswap V3 pool: exact amounts from the pool's own integer swap across its
ticks, the piecewise marginal price and its inverse agreeing with those amounts, nothing taken
past the ticks the edge read, and a large order split with a book at equal marginal price."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from seqmesh.runtime.cc.domain import Side
from seqmesh.runtime.cc.routing.amm_v3 import V3Curve, v3_curve
from seqmesh.runtime.cc.routing.sor import Router, VenueCandidate
from seqmesh.runtime.dex import v3math
from seqmesh.runtime.proto import edge_pb2 as pb

LOT, TICK = Decimal("0.00001"), Decimal("0.01")
# WBTC (8 decimals) / USDT (6) at 65000: raw price 650 token1 per token0, tick 64772, fee 0.05%.
# Positions (lower, upper, liquidity), narrow and deep near the price, wide and thin further out.
POSITIONS = ((64720, 64830, 2500 * 10**9), (64670, 64930, 2000 * 10**9), (64460, 64970, 1300 * 10**9),
             (62540, 66600, 640 * 10**9))
SPAN = (61440, 69110)  # the bitmap words around the price that the edge reads


def _state(flip: bool = False) -> v3math.V3PoolState:
    """The pool with base as token0, or (flip) the same market with base as token1."""
    sign = -1 if flip else 1
    ticks: dict[int, int] = {}
    for lower, upper, liquidity in POSITIONS:
        low, high = sorted((sign * lower, sign * upper))
        ticks[low] = ticks.get(low, 0) + liquidity
        ticks[high] = ticks.get(high, 0) - liquidity
    sqrt_price = v3math.sqrt_price_x96_of(Decimal(650) if not flip else 1 / Decimal(650))
    tick = v3math.tick_at_sqrt_ratio(sqrt_price)
    active = sum(net for t, net in ticks.items() if t <= tick)
    span = SPAN if not flip else (-SPAN[1] - 10, -SPAN[0] - 10)  # word-aligned the other way
    return v3math.V3PoolState(sqrt_price, tick, active, 500, 10, ticks, span)


def curve(flip: bool = False, gas: str = "0") -> V3Curve:
    return V3Curve(_state(flip), not flip, 8, 6, Decimal(gas), "0xv3")


def candidate(c: V3Curve, venue: str = "dex-arbitrum") -> VenueCandidate:
    return VenueCandidate(venue, lambda i: None, Decimal(0), Decimal(0), 0.0, LOT, LOT, Decimal(0), TICK, curve=c)


@pytest.mark.parametrize("flip", [False, True])
def test_amounts_are_the_pools_own_swap(flip: bool) -> None:
    c = curve(flip)
    state = _state(flip)
    sell_zero_for_one = not flip  # base in: token0 in when base is token0
    for qty in (Decimal("0.001"), Decimal("1"), Decimal("12.5")):
        raw = int(qty * 10**8)
        assert c.amount(False, qty) == Decimal(v3math.quote_exact_input(state, sell_zero_for_one, raw)) / 10**6
        assert c.amount(True, qty) == Decimal(v3math.quote_exact_output(state, not sell_zero_for_one, raw)) / 10**6
    assert v3math.swap(state, sell_zero_for_one, 12 * 10**8).ticks_crossed >= 2  # the sizes above cross ticks
    assert abs(c.mid - 65000) < Decimal("0.1")


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("buy", [True, False])
def test_the_marginal_price_is_the_slope_of_the_exact_amounts(flip: bool, buy: bool) -> None:
    c = curve(flip)
    fee = 0.0005
    assert c.marginal(buy, 0.0) == pytest.approx(65000 / (1 - fee) if buy else 65000 * (1 - fee), rel=1e-6)
    last = c.marginal(buy, 0.0)
    for taken in (0.5, 2.0, 5.0, 9.0, 14.0, 20.0):  # through several initialized ticks
        dq = Decimal("0.01")
        amount_lo, amount_hi = c.amount(buy, Decimal(str(taken))), c.amount(buy, Decimal(str(taken)) + dq)
        assert amount_lo is not None and amount_hi is not None
        slope = float((amount_hi - amount_lo) / dq)
        m = c.marginal(buy, taken + 0.005)
        assert m == pytest.approx(slope, rel=2e-5), taken
        assert (m > last) if buy else (m < last)  # the price moves against the taker
        last = m
        assert c.taken_at(buy, c.marginal(buy, taken)) == pytest.approx(taken, rel=1e-6)
    assert c.taken_at(buy, 65000.0 * (0.99 if buy else 1.01)) == 0.0  # already past that price


@pytest.mark.parametrize("buy", [True, False])
def test_nothing_is_taken_past_the_ticks_known(buy: bool) -> None:
    c = curve()
    most = c.max_buy() if buy else c.max_sell()
    assert most is not None and most > 20
    assert c.amount(buy, most) is not None
    assert c.amount(buy, most + Decimal(1)) is None
    assert c.marginal(buy, float(most) + 1) == (math.inf if buy else 0.0)
    # the whole order to this pool alone: it takes what it can and leaves the rest unallocated
    r = Router(Decimal(0)).route(Side.BUY if buy else Side.SELL, most + 10, [candidate(c)])
    assert sum(a.qty for a in r.allocations) <= most and r.unallocated >= 10


def test_a_v3_pool_alone_costs_exactly_its_swap_and_splits_with_a_book() -> None:
    c = curve()
    r = Router(Decimal(0)).route(Side.BUY, Decimal("3"), [candidate(c)])
    [a] = r.allocations
    assert a.notional == Decimal(v3math.quote_exact_output(_state(), False, 3 * 10**8)) / 10**6
    book_levels = [(Decimal("65200"), Decimal("1")), (Decimal("65400"), Decimal("100"))]
    book = VenueCandidate("coinbase", lambda i: book_levels[i] if i < len(book_levels) else None, Decimal("0.001"),
                          Decimal("0.0008"), 0.0, LOT, LOT, Decimal(5), TICK)
    r = Router(Decimal(0)).route(Side.BUY, Decimal("40"), [book, candidate(c, "dex-arbitrum")])
    got = {x.venue: x for x in r.allocations}
    assert set(got) == {"coinbase", "dex-arbitrum"} and r.unallocated == 0
    # the pool took until its next unit costs what the book's next level does, fee in
    margin = c.marginal(True, float(got["dex-arbitrum"].qty))
    assert 65400 * 1.001 - 5 <= margin <= 65400 * 1.001 + 5


def test_the_curve_of_a_published_pool_state() -> None:
    state = _state()
    usdt, wbtc = "0x" + "22" * 20, "0x" + "11" * 20  # WBTC's address sorts first: base is token0
    st = pb.PoolState(symbol="BTC/USDT", pool="0xv3", kind="uniswap-v3", base_token=wbtc, quote_token=usdt,
                      base_decimals=8, quote_decimals=6, fee_ppm=500, liquidity=str(state.liquidity),
                      sqrt_price_x96=str(state.sqrt_price_x96), tick=state.tick, tick_spacing=10,
                      ticks=[pb.TickLiquidity(tick=t, liquidity_net=str(n)) for t, n in state.ticks.items()],
                      ticks_low=SPAN[0], ticks_high=SPAN[1])
    c = v3_curve(st, Decimal("0.5"))
    assert c.base_is_token0 and c.gas_cost == Decimal("0.5")
    assert c.amount(True, Decimal(2)) == curve().amount(True, Decimal(2))
    flipped = v3_curve(pb.PoolState(**{**{f.name: getattr(st, f.name) for f in st.DESCRIPTOR.fields
                                          if f.name != "ticks"}, "base_token": usdt, "quote_token": wbtc}),
                       Decimal(0))
    assert not flipped.base_is_token0
