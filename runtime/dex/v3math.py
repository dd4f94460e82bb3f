"""Uniswap V3 swap math, in the integers the pool contract uses.

A V3 pool holds a price as sqrt(price) in Q64.96 (`sqrt_price_x96`, price = token1 per token0
in raw units), the liquidity active at that price, and a map of initialized ticks (tick ->
liquidityNet: what crossing the tick upward adds to the active liquidity). A swap walks the
price in steps: each step ends at the next initialized tick, at the end of the tick bitmap's
256-tick word, at the price limit or where the amount runs out; crossing an initialized tick
changes the liquidity. Rounding is always against the trader, as in the contracts: amounts
paid in round up, amounts paid out round down, and prices move conservatively. Reproducing
the word boundaries matters: a step split in two rounds twice, so a quote that ignored them
could differ from the pool by a unit.

The functions follow the semantics of v3-core 1.0.1 (TickMath, SqrtPriceMath, SwapMath,
TickBitmap and the pool's swap loop); they are pure and take the state the caller read.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739  # sqrt_ratio_at_tick(MIN_TICK)
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342  # sqrt_ratio_at_tick(MAX_TICK)
Q96 = 2**96
UINT160_MAX = 2**160 - 1
UINT256_MAX = 2**256 - 1
FEE_UNITS = 1_000_000  # fees are in hundredths of a basis point (pips): 3000 = 0.3%
WORD_BITS = 256  # ticks per bitmap word, in units of the tick spacing
_LOG_TICK = math.log(1.0001)


class V3MathError(ValueError):
    """Input the V3 contracts would reject, or a swap that leaves the ticks the caller knows."""


def _tick_factors() -> tuple[int, ...]:
    """Q128 factors 1.0001^(-2^k / 2) for k = 0..19, rounded to nearest.

    A tick's sqrt price is the product of the factors for the bits of |tick|; the contract
    carries these as constants, computed here from their definition.
    """
    with localcontext() as ctx:
        ctx.prec = 100
        root = Decimal("1.0001").sqrt()
        return tuple(int((Decimal(2**128) / root ** (2**k)).to_integral_value(ROUND_HALF_EVEN)) for k in range(20))


_FACTORS = _tick_factors()


def sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001^tick) in Q64.96, rounded up."""
    if not MIN_TICK <= tick <= MAX_TICK:
        raise V3MathError(f"T: tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    magnitude = abs(tick)
    ratio = _FACTORS[0] if magnitude & 1 else 2**128
    for k in range(1, 20):
        if magnitude & (1 << k):
            ratio = (ratio * _FACTORS[k]) >> 128
    if tick > 0:
        ratio = UINT256_MAX // ratio  # the factors are for 1/price; invert in Q128
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)  # Q128 -> Q96, rounding up


def tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= the price.

    That is the contract's definition of the result (it gets there by a fixed-point log); here a
    float log lands within a tick of it and `sqrt_ratio_at_tick`, which is exact and monotonic,
    settles it.
    """
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise V3MathError(f"R: sqrt price {sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    tick = math.floor(2 * math.log(sqrt_price_x96 / Q96) / _LOG_TICK)
    tick = max(MIN_TICK, min(MAX_TICK - 1, tick))
    while tick > MIN_TICK and sqrt_ratio_at_tick(tick) > sqrt_price_x96:
        tick -= 1
    while sqrt_ratio_at_tick(tick + 1) <= sqrt_price_x96:
        tick += 1
    return tick


def _mul_div(a: int, b: int, d: int) -> int:
    """FullMath.mulDiv: floor(a*b/d), which must fit in 256 bits."""
    result = a * b // d
    if result > UINT256_MAX:
        raise V3MathError("mulDiv overflow")
    return result


def _mul_div_up(a: int, b: int, d: int) -> int:
    result = -(-a * b // d)
    if result > UINT256_MAX:
        raise V3MathError("mulDiv overflow")
    return result


def _div_up(a: int, d: int) -> int:
    return -(-a // d)


def _as_uint160(value: int) -> int:
    if not 0 <= value <= UINT160_MAX:
        raise V3MathError(f"sqrt price {value} does not fit in uint160")
    return value


def next_sqrt_price_from_amount0(sqrt_price_x96: int, liquidity: int, amount: int, add: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp: price after adding/removing token0.

    New price = L * P / (L + amount * P) (adding), rounded up so the price moves less. The
    contract takes a cheaper, coarser formula when amount * P would overflow 256 bits; so do we.
    """
    if amount == 0:
        return sqrt_price_x96
    numerator = liquidity << 96
    product = amount * sqrt_price_x96
    if add:
        if product <= UINT256_MAX and numerator + product <= UINT256_MAX:
            return _as_uint160(_mul_div_up(numerator, sqrt_price_x96, numerator + product))
        return _as_uint160(_div_up(numerator, numerator // sqrt_price_x96 + amount))
    if product > UINT256_MAX or numerator <= product:
        raise V3MathError("removing more token0 than the liquidity holds at this price")
    return _as_uint160(_mul_div_up(numerator, sqrt_price_x96, numerator - product))


def next_sqrt_price_from_amount1(sqrt_price_x96: int, liquidity: int, amount: int, add: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromAmount1RoundingDown: price after adding/removing token1.

    New price = P +/- amount / L; the change is rounded so the price ends lower either way.
    """
    if add:
        return _as_uint160(sqrt_price_x96 + amount * Q96 // liquidity)
    change = _div_up(amount * Q96, liquidity)
    if sqrt_price_x96 <= change:
        raise V3MathError("removing more token1 than the liquidity holds at this price")
    return sqrt_price_x96 - change


def next_sqrt_price_from_input(sqrt_price_x96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    if sqrt_price_x96 <= 0 or liquidity <= 0:
        raise V3MathError("price and liquidity must be positive")
    if zero_for_one:
        return next_sqrt_price_from_amount0(sqrt_price_x96, liquidity, amount_in, True)
    return next_sqrt_price_from_amount1(sqrt_price_x96, liquidity, amount_in, True)


def next_sqrt_price_from_output(sqrt_price_x96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    if sqrt_price_x96 <= 0 or liquidity <= 0:
        raise V3MathError("price and liquidity must be positive")
    if zero_for_one:
        return next_sqrt_price_from_amount1(sqrt_price_x96, liquidity, amount_out, False)
    return next_sqrt_price_from_amount0(sqrt_price_x96, liquidity, amount_out, False)


def amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount0Delta: token0 between two prices, L * (1/sqrtA - 1/sqrtB)."""
    low, high = min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)
    if low <= 0:
        raise V3MathError("sqrt price must be positive")
    numerator, spread = liquidity << 96, high - low
    if round_up:
        return _div_up(_mul_div_up(numerator, spread, high), low)
    return _mul_div(numerator, spread, high) // low


def amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount1Delta: token1 between two prices, L * (sqrtB - sqrtA)."""
    spread = abs(sqrt_b - sqrt_a)
    return _mul_div_up(liquidity, spread, Q96) if round_up else _mul_div(liquidity, spread, Q96)


@dataclass(frozen=True, slots=True)
class SwapStep:
    sqrt_price_next_x96: int
    amount_in: int  # fee excluded
    amount_out: int
    fee_amount: int


def compute_swap_step(
    sqrt_current_x96: int, sqrt_target_x96: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> SwapStep:
    """SwapMath.computeSwapStep: one step toward the target price within constant liquidity.

    `amount_remaining` > 0 is an exact input still to pay (fee included), < 0 an exact output
    still to receive. The step reaches the target if the amount allows, else stops short.
    """
    zero_for_one = sqrt_current_x96 >= sqrt_target_x96
    exact_in = amount_remaining >= 0
    if exact_in:
        less_fee = _mul_div(amount_remaining, FEE_UNITS - fee_pips, FEE_UNITS)
        amount_in = (amount0_delta(sqrt_target_x96, sqrt_current_x96, liquidity, True) if zero_for_one
                     else amount1_delta(sqrt_current_x96, sqrt_target_x96, liquidity, True))
        sqrt_next = (sqrt_target_x96 if less_fee >= amount_in
                     else next_sqrt_price_from_input(sqrt_current_x96, liquidity, less_fee, zero_for_one))
        amount_out = 0
    else:
        amount_out = (amount1_delta(sqrt_target_x96, sqrt_current_x96, liquidity, False) if zero_for_one
                      else amount0_delta(sqrt_current_x96, sqrt_target_x96, liquidity, False))
        sqrt_next = (sqrt_target_x96 if -amount_remaining >= amount_out
                     else next_sqrt_price_from_output(sqrt_current_x96, liquidity, -amount_remaining, zero_for_one))
        amount_in = 0
    reached = sqrt_next == sqrt_target_x96
    # Recompute what the step did not fix exactly, between the prices it actually spans.
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = amount0_delta(sqrt_next, sqrt_current_x96, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount1_delta(sqrt_next, sqrt_current_x96, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = amount1_delta(sqrt_current_x96, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount0_delta(sqrt_current_x96, sqrt_next, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining  # never pay out more than asked
    if exact_in and sqrt_next != sqrt_target_x96:
        fee = amount_remaining - amount_in  # the step used up the input: the rest is the fee
    else:
        fee = _mul_div_up(amount_in, fee_pips, FEE_UNITS - fee_pips)
    return SwapStep(sqrt_next, amount_in, amount_out, fee)


@dataclass(frozen=True, slots=True)
class V3PoolState:
    """What a swap needs of a pool: slot0's price and tick, the active liquidity, the fee, the
    tick spacing and the initialized ticks (tick -> liquidityNet) the caller read.

    `tick_range` is the window [low, high] within which `ticks` is complete; a swap that would
    step past it raises rather than guess (None: the map holds every initialized tick).
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_pips: int
    tick_spacing: int
    ticks: Mapping[int, int]
    tick_range: tuple[int, int] | None = None
    _sorted: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not MIN_SQRT_RATIO <= self.sqrt_price_x96 < MAX_SQRT_RATIO:
            raise V3MathError(f"sqrt price {self.sqrt_price_x96} outside the pool's range")
        if self.liquidity < 0:
            raise V3MathError(f"liquidity must not be negative, got {self.liquidity}")
        if not 0 <= self.fee_pips < FEE_UNITS:
            raise V3MathError(f"fee {self.fee_pips} pips outside [0, {FEE_UNITS})")
        if self.tick_spacing <= 0:
            raise V3MathError(f"tick spacing must be positive, got {self.tick_spacing}")
        for t in self.ticks:
            if t % self.tick_spacing:
                raise V3MathError(f"initialized tick {t} is not a multiple of the spacing {self.tick_spacing}")
        object.__setattr__(self, "_sorted", tuple(sorted(self.ticks)))

    def next_initialized_tick(self, tick: int, lte: bool) -> tuple[int, bool]:
        """TickBitmap.nextInitializedTickWithinOneWord: the next initialized tick at or below
        `tick` (lte) or above it, looking no further than the current 256-bit word; if none,
        the word's last tick in that direction, not initialized."""
        spacing = self.tick_spacing
        compressed = tick // spacing  # floor, as the contract rounds negative ticks down
        if lte:
            word_start = (compressed >> 8) << 8
            i = bisect.bisect_right(self._sorted, compressed * spacing) - 1
            if i >= 0 and self._sorted[i] >= word_start * spacing:
                return self._sorted[i], True
            return word_start * spacing, False
        start = compressed + 1
        word_end = ((start >> 8) << 8) + WORD_BITS - 1
        i = bisect.bisect_left(self._sorted, start * spacing)
        if i < len(self._sorted) and self._sorted[i] <= word_end * spacing:
            return self._sorted[i], True
        return word_end * spacing, False


@dataclass(frozen=True, slots=True)
class SwapResult:
    """The pool's side of a swap, as UniswapV3Pool.swap returns it: `amount0`/`amount1` are what
    the pool received (positive) or paid (negative); and the state it leaves."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int


def swap(pool: V3PoolState, zero_for_one: bool, amount_specified: int,
         sqrt_price_limit_x96: int | None = None) -> SwapResult:
    """UniswapV3Pool.swap, without moving tokens: `amount_specified` > 0 is an exact input of
    the token paid in (token0 when `zero_for_one`), < 0 an exact output of the other. Without a
    limit the price may go as far as the contract allows (as SwapRouter and the Quoter do)."""
    if amount_specified == 0:
        raise V3MathError("AS: amount_specified must not be zero")
    limit = sqrt_price_limit_x96
    if limit is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    if zero_for_one and not MIN_SQRT_RATIO < limit < pool.sqrt_price_x96:
        raise V3MathError(f"SPL: limit {limit} must be below the price {pool.sqrt_price_x96} for a zero-for-one swap")
    if not zero_for_one and not pool.sqrt_price_x96 < limit < MAX_SQRT_RATIO:
        raise V3MathError(f"SPL: limit {limit} must be above the price {pool.sqrt_price_x96} for a one-for-zero swap")

    exact_in = amount_specified > 0
    remaining, calculated = amount_specified, 0
    price, tick, liquidity, crossed = pool.sqrt_price_x96, pool.tick, pool.liquidity, 0
    while remaining != 0 and price != limit:
        start = price
        tick_next, initialized = pool.next_initialized_tick(tick, zero_for_one)
        tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
        if pool.tick_range is not None and not pool.tick_range[0] <= tick_next <= pool.tick_range[1]:
            raise V3MathError(f"the swap reaches tick {tick_next}, past the ticks known {pool.tick_range}")
        price_next = sqrt_ratio_at_tick(tick_next)
        past_limit = price_next < limit if zero_for_one else price_next > limit
        step = compute_swap_step(price, limit if past_limit else price_next, liquidity, remaining, pool.fee_pips)
        price = step.sqrt_price_next_x96
        if exact_in:
            remaining -= step.amount_in + step.fee_amount
            calculated -= step.amount_out
        else:
            remaining += step.amount_out
            calculated += step.amount_in + step.fee_amount
        if price == price_next:
            if initialized:
                net = pool.ticks[tick_next]
                liquidity += -net if zero_for_one else net
                if liquidity < 0:
                    raise V3MathError(f"LS: liquidity below zero crossing tick {tick_next}")
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif price != start:
            tick = tick_at_sqrt_ratio(price)
    specified_done = amount_specified - remaining
    if zero_for_one == exact_in:
        amount0, amount1 = specified_done, calculated
    else:
        amount0, amount1 = calculated, specified_done
    return SwapResult(amount0, amount1, price, tick, liquidity, crossed)


def quote_exact_input(pool: V3PoolState, zero_for_one: bool, amount_in: int) -> int:
    """What `amount_in` of the token paid in buys (as QuoterV2.quoteExactInputSingle)."""
    if amount_in <= 0:
        raise V3MathError(f"amount in must be positive, got {amount_in}")
    result = swap(pool, zero_for_one, amount_in)
    return -(result.amount1 if zero_for_one else result.amount0)


def quote_exact_output(pool: V3PoolState, zero_for_one: bool, amount_out: int) -> int:
    """What receiving exactly `amount_out` costs in the token paid in (QuoterV2.quoteExactOutputSingle);
    raises if the pool cannot pay that much."""
    if amount_out <= 0:
        raise V3MathError(f"amount out must be positive, got {amount_out}")
    result = swap(pool, zero_for_one, -amount_out)
    received = -(result.amount1 if zero_for_one else result.amount0)
    if received != amount_out:
        raise V3MathError(f"the pool pays at most {received} of the {amount_out} asked")
    return result.amount0 if zero_for_one else result.amount1


def sqrt_price_x96_of(price: Decimal) -> int:
    """Q64.96 sqrt of a raw price (token1 units per token0 unit), rounded down."""
    if price <= 0:
        raise V3MathError(f"price must be positive, got {price}")
    with localcontext() as ctx:
        ctx.prec = 80
        return int((price.sqrt() * Q96).to_integral_value(rounding="ROUND_FLOOR"))


def price_of(sqrt_price_x96: int) -> Decimal:
    """The raw price (token1 units per token0 unit) of a Q64.96 sqrt price."""
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(sqrt_price_x96) / Q96) ** 2


def mid_of(sqrt_price_x96: int, base_is_token0: bool, base_decimals: int, quote_decimals: int) -> Decimal:
    """Quote per whole base token at a pool's sqrt price (which is token1 per token0, raw)."""
    with localcontext() as ctx:
        ctx.prec = 40
        raw = price_of(sqrt_price_x96)
        per_base = raw if base_is_token0 else 1 / raw
        return +per_base.scaleb(base_decimals - quote_decimals)
