"""Uniswap V2 pool math against values worked out by hand from UniswapV2Library's formulas."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqmesh.runtime.dex.v2math import (
    UINT112_MAX,
    Reserves,
    V2MathError,
    get_amount_in,
    get_amount_out,
    get_amounts_in,
    get_amounts_out,
    mid_price,
    price_impact,
    reserves_after,
)

WETH = 10**18
USDC = 10**6


def test_amount_out_one_weth_into_a_300k_usdc_pool() -> None:
    # 1 WETH into 100 WETH / 300,000 USDC:
    # 997e18 * 300000e6 / (100e18 * 1000 + 997e18) = 2.991e32 / 1.00997e23 = 2961474103.19... -> floor
    assert get_amount_out(1 * WETH, 100 * WETH, 300_000 * USDC) == 2_961_474_103


def test_amount_out_rounds_down() -> None:
    # 1000 * 997 * 1000 / (1000 * 1000 + 997000) = 997000000 / 1997000 = 499.249... -> 499
    assert get_amount_out(1000, 1000, 1000) == 499
    # 1 * 997 * 1000 / 1000997 < 1: a dust input buys nothing
    assert get_amount_out(1, 1000, 1000) == 0


def test_amount_in_rounds_up_by_one() -> None:
    # 1000 * 500 * 1000 / ((1000 - 500) * 997) = 500000000 / 498500 = 1003.009... -> 1003 + 1
    assert get_amount_in(500, 1000, 1000) == 1004
    assert get_amount_out(1004, 1000, 1000) == 500  # enough
    assert get_amount_out(1003, 1000, 1000) == 499  # one unit less is not
    # 1000 * 499 * 1000 / (501 * 997) = 499000000 / 499497 = 999.005... -> 999 + 1
    assert get_amount_in(499, 1000, 1000) == 1000


def test_amount_in_when_the_division_is_exact_still_adds_one() -> None:
    # reserve_in 997, reserve_out 2000, out 1000: 997 * 1000 * 1000 / (1000 * 997) = 1000 exactly, + 1
    assert get_amount_in(1000, 997, 2000) == 1001
    assert get_amount_out(1000, 997, 2000) == 1000  # the library overpays by one unit here


def test_multi_hop_chains_each_hop() -> None:
    # WETH -> USDC -> WBTC: 1 WETH gives 2961474103 USDC (above), then into 3,000,000 USDC / 50 WBTC (8 dp):
    # with fee 2961474103 * 997 = 2952589680691; * 5e9 = 1.4762948403455e22;
    # / (3e12 * 1000 + 2952589680691 = 3.002952589680691e15) = 4916144.3... -> 4916144
    path = [Reserves(100 * WETH, 300_000 * USDC), Reserves(3_000_000 * USDC, 50 * 10**8)]
    amounts = get_amounts_out(1 * WETH, path)
    assert amounts == [1 * WETH, 2_961_474_103, 4_916_144]
    back = get_amounts_in(amounts[-1], path)
    assert back[-1] == amounts[-1]
    assert back[0] <= 1 * WETH  # the least input for the same output is never more than what bought it
    assert get_amounts_out(back[0], path)[-1] >= amounts[-1]


def test_reserves_after_a_swap_keep_k_growing() -> None:
    hop = Reserves(1000, 1000)
    after = reserves_after(1000, hop)
    assert after == Reserves(2000, 501)
    assert after.reserve_in * after.reserve_out > hop.reserve_in * hop.reserve_out


def test_price_impact_is_the_fee_for_a_tiny_size_and_grows_with_size() -> None:
    pool = [Reserves(100 * WETH, 300_000 * USDC)]
    assert mid_price(pool[0]) == Fraction(300_000 * USDC, 100 * WETH)
    # 0.001 WETH moves a 100 WETH pool by 1e-5 and rounds off under 1e-6: the impact is the fee, 0.3%
    tiny = price_impact(10**15, pool)
    assert Fraction(3, 1000) <= tiny < Fraction(3, 1000) + Fraction(2, 10**5)
    # 1e-6 WETH buys 2990 units of 2991 owed: at dust sizes the rounding is the impact
    assert price_impact(10**12, pool) == 1 - Fraction(2990, 3000)
    # 1 WETH of 100: executed 2961.474103 against a mid of 3000 -> 1 - 2961474103 / 3e9
    assert price_impact(1 * WETH, pool) == 1 - Fraction(2_961_474_103, 3_000_000_000)
    assert price_impact(10 * WETH, pool) > price_impact(1 * WETH, pool)


@given(
    amount_out=st.integers(min_value=1, max_value=10**30),
    reserve_in=st.integers(min_value=1, max_value=UINT112_MAX),
    reserve_out=st.integers(min_value=2, max_value=UINT112_MAX),
)
def test_amount_in_always_buys_the_amount_out(amount_out: int, reserve_in: int, reserve_out: int) -> None:
    amount_out = amount_out % (reserve_out - 1) + 1
    paid = get_amount_in(amount_out, reserve_in, reserve_out)
    assert get_amount_out(paid, reserve_in, reserve_out) >= amount_out


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: get_amount_out(0, 10, 10), "INSUFFICIENT_INPUT_AMOUNT"),
        (lambda: get_amount_out(-5, 10, 10), "INSUFFICIENT_INPUT_AMOUNT"),
        (lambda: get_amount_out(1, 0, 10), "INSUFFICIENT_LIQUIDITY: reserve_in"),
        (lambda: get_amount_out(1, 10, 0), "INSUFFICIENT_LIQUIDITY: reserve_out"),
        (lambda: get_amount_in(0, 10, 10), "INSUFFICIENT_OUTPUT_AMOUNT"),
        (lambda: get_amount_in(10, 10, 10), "amount_out 10 >= reserve_out 10"),
        (lambda: get_amount_out(1.5, 10, 10), "input_amount must be an int"),  # type: ignore[arg-type]
        (lambda: get_amount_out(True, 10, 10), "input_amount must be an int"),
        (lambda: get_amount_out(1, UINT112_MAX + 1, 10), "exceeds uint112"),
        (lambda: get_amounts_out(1, []), "INVALID_PATH"),
        (lambda: get_amounts_in(1, []), "INVALID_PATH"),
    ],
)
def test_bad_input_names_the_problem(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(V2MathError, match=message):
        call()
