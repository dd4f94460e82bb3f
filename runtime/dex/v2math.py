"""Uniswap V2 constant-product quotes, in the integers the contracts use.

Identical to UniswapV2Library (v2-periphery): `get_amount_out`/`get_amount_in` apply the 0.3%
fee as 997/1000 with the same floor divisions and the `+ 1` rounding up of the amount in, and
the multi-hop forms chain them along a path of reserves exactly as `getAmountsOut`/`getAmountsIn`
do. Amounts are raw token units (wei of the token), never decimals: a quote that differs from
the router by one unit is a wrong quote. Pure functions; the caller reads the reserves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

FEE_NUMERATOR = 997  # 0.3% fee, as in UniswapV2Pair.swap and UniswapV2Library
FEE_DENOMINATOR = 1000
UINT112_MAX = 2**112 - 1  # reserves are stored as uint112 in the pair


class V2MathError(ValueError):
    """Input the V2 contracts would reject (the library's require messages, named)."""


@dataclass(frozen=True, slots=True)
class Reserves:
    """One hop's reserves, oriented: `reserve_in` of the token paid in, `reserve_out` of the one taken."""

    reserve_in: int
    reserve_out: int


def _check_reserves(reserve_in: int, reserve_out: int) -> None:
    for name, value in (("reserve_in", reserve_in), ("reserve_out", reserve_out)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise V2MathError(f"{name} must be an int of raw token units, got {type(value).__name__}")
        if value <= 0:
            raise V2MathError(f"INSUFFICIENT_LIQUIDITY: {name} is {value}")
        if value > UINT112_MAX:
            raise V2MathError(f"{name} {value} exceeds uint112, which a V2 pair cannot hold")


def _check_amount(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise V2MathError(f"{name} must be an int of raw token units, got {type(value).__name__}")
    if value <= 0:
        raise V2MathError(f"INSUFFICIENT_{name.upper()}: {name} must be positive, got {value}")


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: the most `amount_in` buys, fee taken, rounded down."""
    _check_amount("input_amount", amount_in)
    _check_reserves(reserve_in, reserve_out)
    amount_in_with_fee = amount_in * FEE_NUMERATOR
    numerator = amount_in_with_fee * reserve_out
    denominator = reserve_in * FEE_DENOMINATOR + amount_in_with_fee
    return numerator // denominator


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountIn: the least to pay for exactly `amount_out` (rounded up by one)."""
    _check_amount("output_amount", amount_out)
    _check_reserves(reserve_in, reserve_out)
    if amount_out >= reserve_out:
        # The library's subtraction would underflow and revert: no amount in buys the whole reserve.
        raise V2MathError(f"INSUFFICIENT_LIQUIDITY: amount_out {amount_out} >= reserve_out {reserve_out}")
    numerator = reserve_in * amount_out * FEE_DENOMINATOR
    denominator = (reserve_out - amount_out) * FEE_NUMERATOR
    return numerator // denominator + 1


def _check_path(path: Sequence[Reserves]) -> None:
    if len(path) == 0:
        raise V2MathError("INVALID_PATH: a path needs at least one hop")


def get_amounts_out(amount_in: int, path: Sequence[Reserves]) -> list[int]:
    """UniswapV2Library.getAmountsOut: amounts at every token of the path, `amount_in` first."""
    _check_path(path)
    amounts = [amount_in]
    for hop in path:
        amounts.append(get_amount_out(amounts[-1], hop.reserve_in, hop.reserve_out))
    return amounts


def get_amounts_in(amount_out: int, path: Sequence[Reserves]) -> list[int]:
    """UniswapV2Library.getAmountsIn: amounts at every token of the path, `amount_out` last."""
    _check_path(path)
    amounts = [amount_out]
    for hop in reversed(path):
        amounts.insert(0, get_amount_in(amounts[0], hop.reserve_in, hop.reserve_out))
    return amounts


def reserves_after(amount_in: int, hop: Reserves) -> Reserves:
    """The hop's reserves once a swap of `amount_in` has settled (the pair's Sync after it)."""
    out = get_amount_out(amount_in, hop.reserve_in, hop.reserve_out)
    return Reserves(hop.reserve_in + amount_in, hop.reserve_out - out)


def mid_price(hop: Reserves) -> Fraction:
    """Units of the out token per unit of the in token at the margin, before fee (reserve ratio)."""
    _check_reserves(hop.reserve_in, hop.reserve_out)
    return Fraction(hop.reserve_out, hop.reserve_in)


def price_impact(amount_in: int, path: Sequence[Reserves]) -> Fraction:
    """How much worse than the path's mid price a swap of `amount_in` executes, as a fraction.

    1 - executed / mid, where mid is the product of the hops' reserve ratios. It includes the
    fee (0.3% per hop) and the rounding, so it is what the taker loses against the mid; a
    tiny size on one hop gives ~0.003, not 0.
    """
    amounts = get_amounts_out(amount_in, path)
    mid = Fraction(1)
    for hop in path:
        mid *= mid_price(hop)
    executed = Fraction(amounts[-1], amount_in)
    return 1 - executed / mid
