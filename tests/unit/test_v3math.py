"""Uniswap V3 swap math: TickMath's bounds and inverse, the amount deltas' rounding, a swap step's
accounting, a swap on one range against the constant-product closed form, the bitmap's word
boundaries, and what the pool would refuse. Exactness against a deployed pool and QuoterV2 is
tests/integration/test_chain_v3.py."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqmesh.runtime.dex import v3math, v3ticks
from seqmesh.runtime.dex.v3math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    V3MathError,
    V3PoolState,
    amount0_delta,
    amount1_delta,
    compute_swap_step,
    sqrt_ratio_at_tick,
    swap,
    tick_at_sqrt_ratio,
)

ticks = st.integers(MIN_TICK, MAX_TICK)


def test_tick_bounds_and_the_unit_price() -> None:
    assert sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert sqrt_ratio_at_tick(0) == Q96
    with pytest.raises(V3MathError, match="outside"):
        sqrt_ratio_at_tick(MAX_TICK + 1)
    with pytest.raises(V3MathError, match="outside"):
        tick_at_sqrt_ratio(MAX_SQRT_RATIO)


@given(ticks)
def test_sqrt_ratio_is_sqrt_of_1_0001_to_the_tick(tick: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        exact = Decimal("1.0001").sqrt() ** tick * Q96
    assert abs(Decimal(sqrt_ratio_at_tick(tick)) - exact) <= exact * Decimal("1e-15") + 1


@given(st.integers(MIN_TICK + 1, MAX_TICK - 1))
def test_tick_at_sqrt_ratio_is_the_greatest_tick_at_or_below(tick: int) -> None:
    ratio = sqrt_ratio_at_tick(tick)
    assert tick_at_sqrt_ratio(ratio) == tick
    assert tick_at_sqrt_ratio(ratio - 1) == tick - 1
    assert tick_at_sqrt_ratio(sqrt_ratio_at_tick(tick + 1) - 1) == tick


@given(st.integers(MIN_TICK, MAX_TICK - 1), st.integers(1, 5000), st.integers(1, 2**128 - 1))
def test_amount_deltas_round_up_by_at_most_one(tick: int, width: int, liquidity: int) -> None:
    a, b = sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(min(MAX_TICK, tick + width))
    for delta in (amount0_delta, amount1_delta):
        down, up = delta(a, b, liquidity, False), delta(b, a, liquidity, True)
        assert up - down in (0, 1)
    # token1 between two prices is L * (sqrt b - sqrt a), floored
    assert amount1_delta(a, b, liquidity, False) == liquidity * (b - a) // Q96


@given(st.integers(-50_000, 50_000), st.integers(-3000, 3000), st.integers(10**6, 10**24),
       st.integers(1, 10**22), st.sampled_from([0, 500, 3000, 10_000]), st.booleans())
def test_a_step_never_takes_more_or_pays_more_than_it_may(tick: int, move: int, liquidity: int, amount: int,
                                                          fee: int, exact_in: bool) -> None:
    current, target = sqrt_ratio_at_tick(tick), sqrt_ratio_at_tick(tick + move)
    remaining = amount if exact_in else -amount
    step = compute_swap_step(current, target, liquidity, remaining, fee)
    low, high = sorted((current, target))
    assert low <= step.sqrt_price_next_x96 <= high
    if exact_in:
        assert step.amount_in + step.fee_amount <= amount
        if step.sqrt_price_next_x96 != target:
            assert step.amount_in + step.fee_amount == amount  # stopped short: the input is used up
    else:
        assert step.amount_out <= amount
    assert step.fee_amount * (1_000_000 - fee) >= step.amount_in * fee  # fee rounds up, never down


def _one_range(liquidity: int, tick: int = 0, fee: int = 3000) -> V3PoolState:
    # a single position far wider than any swap here: constant liquidity
    return V3PoolState(sqrt_ratio_at_tick(tick), tick, liquidity, fee, 60, {-887220: liquidity, 887220: -liquidity})


@given(st.integers(10**3, 10**18), st.booleans())
def test_a_swap_on_one_range_is_the_constant_product_curve(amount_in: int, zero_for_one: bool) -> None:
    liquidity = 10**21  # virtual reserves of 1e21 of each token at price 1
    result = swap(_one_range(liquidity), zero_for_one, amount_in)
    x = y = Fraction(liquidity)
    paid_in = Fraction(amount_in) * Fraction(997, 1000)
    expected_out = y - x * y / (x + paid_in)  # the constant product on the virtual reserves
    out = -(result.amount1 if zero_for_one else result.amount0)
    assert expected_out - 3 <= out <= expected_out  # the contract rounds every step against the trader
    assert (result.amount0 if zero_for_one else result.amount1) == amount_in
    assert result.ticks_crossed == 0 and result.liquidity == liquidity


def test_exact_output_costs_what_that_input_would_buy() -> None:
    pool = _one_range(10**21)
    for zero_for_one in (True, False):
        wanted = 12_345_678_901_234
        paid = v3math.quote_exact_output(pool, zero_for_one, wanted)
        assert v3math.quote_exact_input(pool, zero_for_one, paid) >= wanted
        assert v3math.quote_exact_input(pool, zero_for_one, paid - 2) < wanted


def test_crossing_initialized_ticks_changes_the_liquidity() -> None:
    # [-600, 600) holds 1e18 more than the wide range: below -600 only the wide one is left
    wide = 10**18
    pool = V3PoolState(Q96, 0, 2 * wide, 500, 10,
                       {-887270: wide, -600: wide, 600: -wide, 887270: -wide})
    result = swap(pool, True, 10**17)  # sells token0: the price falls through -600
    assert result.ticks_crossed == 1 and result.liquidity == wide and result.tick < -600
    back = swap(V3PoolState(result.sqrt_price_x96, result.tick, result.liquidity, 500, 10, pool.ticks),
                False, 10**16)
    assert back.tick > result.tick


def test_the_next_tick_stops_at_the_bitmap_word() -> None:
    pool = V3PoolState(Q96, 0, 1, 500, 10, {-30: 5, 40: -5, 2600: 1})
    assert pool.next_initialized_tick(0, True) == (0, False)  # word [0, 2550] has nothing at or below 0
    assert pool.next_initialized_tick(-31, True) == (-2560, False)  # word [-2560, -10]: none left below
    assert pool.next_initialized_tick(0, False) == (40, True)
    assert pool.next_initialized_tick(40, False) == (2550, False)  # end of word [0, 2550]
    assert pool.next_initialized_tick(2550, False) == (2600, True)
    assert pool.next_initialized_tick(-5, True) == (-30, True)  # -5 floors to -10, in the word below 0
    with pytest.raises(V3MathError, match="multiple of the spacing"):
        V3PoolState(Q96, 0, 1, 500, 10, {15: 1})


def test_the_tick_window_read_from_the_bitmap() -> None:
    words = v3ticks.words_around(64772, 10, 1)
    assert list(words) == [24, 25, 26]
    assert v3ticks.span(words, 10) == (61440, 69110)
    assert v3ticks.ticks_in_word(25, (1 << 3) | (1 << 200), 10) == [64030, 66000]
    assert v3ticks.ticks_in_word(-1, 1 << 255, 60) == [-60]


def test_what_the_pool_refuses() -> None:
    pool = _one_range(10**18)
    with pytest.raises(V3MathError, match="AS"):
        swap(pool, True, 0)
    with pytest.raises(V3MathError, match="SPL"):
        swap(pool, True, 10, sqrt_price_limit_x96=Q96 + 1)  # a zero-for-one limit must be below the price
    with pytest.raises(V3MathError, match="SPL"):
        swap(pool, False, 10, sqrt_price_limit_x96=Q96 - 1)
    windowed = V3PoolState(Q96, 0, 10**18, 500, 10, {-100: 10**18, 100: -10**18}, tick_range=(-2560, 2550))
    with pytest.raises(V3MathError, match="past the ticks known"):
        swap(windowed, True, 10**18)  # runs through the window's bottom
    with pytest.raises(V3MathError, match="pays at most"):
        v3math.quote_exact_output(V3PoolState(Q96, 0, 10**18, 500, 10, {-100: 10**18, 100: -10**18}), False, 10**18)


def test_a_price_limit_stops_the_swap_there() -> None:
    pool = _one_range(10**21)
    limit = sqrt_ratio_at_tick(-100)
    result = swap(pool, True, 10**30, sqrt_price_limit_x96=limit)
    assert result.sqrt_price_x96 == limit and result.amount0 < 10**30
