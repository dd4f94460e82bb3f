"""A Uniswap V3 pool as the router sees it: the same questions as a V2 pool's curve (amm.py),
answered across the pool's initialized ticks.

What a swap pays or brings is the pool's own integer swap (runtime/dex/v3math.py) on the state
the edge published, so an allocation's expected notional is what the chain settles at that
state. The marginal price and its inverse, for ranking against order-book levels, are floats
on the piecewise curve: between two initialized ticks the liquidity L is constant and, with
s = sqrt(price) (token1 per token0, raw units), token0 moves as L·(1/s) and token1 as L·s;
crossing a tick adds or removes its liquidityNet. The fee is charged on the amount paid in.
The curve ends where the ticks the edge read end: nothing is taken past them.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from seqmesh.runtime.dex import v3math
from seqmesh.runtime.dex.kinds import V3
from seqmesh.runtime.proto import edge_pb2 as pb

V3_KIND = V3
_BIG = 2**200  # an amount no pool holds: a swap bounded by a price limit, not by the amount


@dataclass(frozen=True, slots=True)
class _Segment:
    """A stretch of constant liquidity, from sqrt price `start` to `end` in the swap's direction."""

    start: float
    end: float
    liquidity: float
    taken_before: float  # base taken (whole tokens) before the segment starts


@dataclass(frozen=True, slots=True)
class V3Curve:
    state: v3math.V3PoolState
    base_is_token0: bool
    base_decimals: int
    quote_decimals: int
    gas_cost: Decimal  # quote currency, per swap
    pool: str = ""
    _segments: dict[bool, tuple[tuple[_Segment, ...], float]] = field(init=False, repr=False, compare=False)
    _max: dict[bool, Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.state.tick_range is None:
            raise ValueError("a V3 curve needs the span of ticks its state covers")
        object.__setattr__(self, "_segments", {buy: self._walk(buy) for buy in (True, False)})
        object.__setattr__(self, "_max", {buy: self._most(buy) for buy in (True, False)})

    # -- exact amounts -----------------------------------------------------------------------

    def _zero_for_one(self, buy: bool) -> bool:
        """Buying base pays quote in: token0 in when quote is token0."""
        return self.base_is_token0 != buy

    def amount(self, buy: bool, qty: Decimal) -> Decimal | None:
        """Quote paid to buy `qty` base, or brought by selling it; None past the ticks known."""
        raw = int(qty.scaleb(self.base_decimals).to_integral_value(ROUND_FLOOR))
        if raw <= 0:
            return Decimal(0)
        try:
            if buy:
                paid = v3math.quote_exact_output(self.state, self._zero_for_one(True), raw)
            else:
                paid = v3math.quote_exact_input(self.state, self._zero_for_one(False), raw)
        except v3math.V3MathError:
            return None
        return Decimal(paid).scaleb(-self.quote_decimals)

    def _most(self, buy: bool) -> Decimal:
        """The most base a swap can take (buy) or pay in (sell) without leaving the ticks known:
        the swap to the edge of the span, less a raw unit for the rounding of a different split."""
        low, high = self.state.tick_range or (0, 0)
        zero_for_one = self._zero_for_one(buy)
        edge = v3math.sqrt_ratio_at_tick(low if zero_for_one else high)
        if edge == self.state.sqrt_price_x96 or (edge > self.state.sqrt_price_x96) == zero_for_one:
            return Decimal(0)
        result = v3math.swap(self.state, zero_for_one, -_BIG if buy else _BIG, sqrt_price_limit_x96=edge)
        base = result.amount0 if self.base_is_token0 else result.amount1
        raw = abs(base) - 1  # buying: the base the pool paid out; selling: the base paid in, fee included
        return Decimal(max(raw, 0)).scaleb(-self.base_decimals)

    def max_buy(self) -> Decimal:
        return self._max[True]

    def max_sell(self) -> Decimal:
        return self._max[False]

    @property
    def mid(self) -> Decimal:
        return v3math.mid_of(self.state.sqrt_price_x96, self.base_is_token0, self.base_decimals, self.quote_decimals)

    # -- the piecewise curve, in floats --------------------------------------------------------

    def _walk(self, buy: bool) -> tuple[tuple[_Segment, ...], float]:
        """The segments a swap in this direction passes, and the base they hold in all."""
        state = self.state
        low, high = state.tick_range or (0, 0)
        up = not self._zero_for_one(buy)  # the sqrt price rises when token1 is paid in
        ticks = sorted(state.ticks)
        if up:
            crossings = [t for t in ticks[bisect.bisect_right(ticks, state.tick):] if t <= high] + [high]
        else:
            crossings = [t for t in reversed(ticks[:bisect.bisect_right(ticks, state.tick)]) if t >= low] + [low]
        segments: list[_Segment] = []
        s, liquidity, taken = state.sqrt_price_x96 / 2**96, float(state.liquidity), 0.0
        for t in crossings:
            end = v3math.sqrt_ratio_at_tick(t) / 2**96
            if (end > s) == up and end != s:
                segments.append(_Segment(s, end, liquidity, taken))
                taken += self._base_between(s, end, liquidity)
                s = end
            net = float(state.ticks.get(t, 0))
            liquidity += net if up else -net
        return tuple(segments), taken

    def _fee_in(self, buy: bool) -> float:
        """Base paid in carries the fee on top (a sell); base paid out does not (a buy)."""
        return 1.0 if buy else 1 - self.state.fee_pips / 1_000_000

    def _base_between(self, a: float, b: float, liquidity: float) -> float:
        """Whole base tokens moved between sqrt prices a and b at this liquidity (fee in, if paid in)."""
        raw = liquidity * abs(1 / a - 1 / b) if self.base_is_token0 else liquidity * abs(b - a)
        buy = (b > a) == self.base_is_token0  # base leaves the pool as the price of base rises
        return raw / self._fee_in(buy) / 10.0 ** self.base_decimals

    def _price_at(self, buy: bool, s: float) -> float:
        """Marginal quote per whole base at sqrt price s, the fee charged on the side paid in."""
        per_base = s * s if self.base_is_token0 else 1 / (s * s)
        fee = 1 - self.state.fee_pips / 1_000_000
        return per_base / fee * 10.0 ** (self.base_decimals - self.quote_decimals) if buy \
            else per_base * fee * 10.0 ** (self.base_decimals - self.quote_decimals)

    def _sqrt_at(self, buy: bool, price: float) -> float:
        """The sqrt price at which the marginal price is `price` (the inverse of _price_at)."""
        fee = 1 - self.state.fee_pips / 1_000_000
        per_base = price / 10.0 ** (self.base_decimals - self.quote_decimals) * (fee if buy else 1 / fee)
        return math.sqrt(per_base) if self.base_is_token0 else 1 / math.sqrt(per_base)

    def _sqrt_after(self, seg: _Segment, buy: bool, base: float) -> float:
        """The sqrt price once `base` whole tokens more are taken within the segment."""
        raw = base * self._fee_in(buy) * 10.0 ** self.base_decimals
        up = seg.end > seg.start
        if self.base_is_token0:
            inverse = 1 / seg.start + (-raw if up else raw) / seg.liquidity
            return math.inf if inverse <= 0 else 1 / inverse
        return seg.start + (raw if up else -raw) / seg.liquidity

    def marginal(self, buy: bool, taken: float) -> float:
        """Quote per base of the next unit after `taken` base (inf buying, 0 selling, past the ticks known)."""
        segments, total = self._segments[buy]
        if taken >= total:
            return math.inf if buy else 0.0
        for seg in segments:
            after = seg.taken_before + self._base_between(seg.start, seg.end, seg.liquidity)
            if taken < after and seg.liquidity > 0:
                return self._price_at(buy, self._sqrt_after(seg, buy, taken - seg.taken_before))
        return math.inf if buy else 0.0

    def taken_at(self, buy: bool, price: float) -> float:
        """Base taken when the marginal price reaches `price` (0 if it already has)."""
        segments, total = self._segments[buy]
        if price <= 0:
            return 0.0 if buy else total
        target = self._sqrt_at(buy, price)
        for seg in segments:
            up = seg.end > seg.start
            if (target <= seg.start) if up else (target >= seg.start):
                return seg.taken_before
            if (target < seg.end) if up else (target > seg.end):
                return seg.taken_before + self._base_between(seg.start, target, seg.liquidity)
        return total


def v3_curve(st: pb.PoolState, gas_cost: Decimal) -> V3Curve:
    """The curve of a V3 pool's published state (its ticks, spacing and the span they cover)."""
    state = v3math.V3PoolState(int(st.sqrt_price_x96), st.tick, int(st.liquidity), st.fee_ppm, st.tick_spacing,
                               {t.tick: int(t.liquidity_net) for t in st.ticks}, (st.ticks_low, st.ticks_high))
    return V3Curve(state, base_is_token0(st), st.base_decimals, st.quote_decimals, gas_cost, st.pool)


def base_is_token0(st: pb.PoolState) -> bool:
    """A pool orders its tokens by address: the lower is token0."""
    return int(st.base_token, 16) < int(st.quote_token, 16)
