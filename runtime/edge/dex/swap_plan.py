"""An order as a router call: which swap, its exact amounts from the pool math, and its bound.

A sell of `qty` base pays exactly `qty` in (V2 swapExactTokensForTokens, V3 exactInputSingle)
and takes at least `min_out` quote; a buy takes exactly `qty` out (swapTokensForExactTokens,
exactOutputSingle) and pays at most `max_in` quote. The quote is V2's constant product on the
reserves, or V3's swap across the initialized ticks (v3math). A market order's bound is the pool
math's quote less the slippage allowed; a limit price is the bound itself (a sell takes no less
than price x qty, a buy pays no more).
The chain enforces the bound: a pool that moved past it reverts the swap, nothing is traded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from seqmesh.runtime.dex import v3math
from seqmesh.runtime.dex.kinds import V3
from seqmesh.runtime.dex.v2math import Reserves, get_amount_in, get_amount_out

from .markets import Pool


@dataclass(frozen=True, slots=True)
class SwapPlan:
    sell: bool
    base_raw: int  # exact: paid in (sell) or taken out (buy)
    quote_raw: int  # the pool math's quote on the reserves read: received (sell) or paid (buy)
    bound_raw: int  # min out (sell) or max in (buy), quote units

    def args(self, pool: Pool, to: str, deadline: int) -> tuple[str, list[object]]:
        """The router function and its arguments (SwapRouter's for a V3 pool, no price limit)."""
        if pool.kind == V3:
            if self.sell:
                return "exactInputSingle", [(pool.base.address, pool.quote.address, pool.fee_ppm, to, deadline,
                                             self.base_raw, self.bound_raw, 0)]
            return "exactOutputSingle", [(pool.quote.address, pool.base.address, pool.fee_ppm, to, deadline,
                                          self.base_raw, self.bound_raw, 0)]
        if self.sell:
            return "swapExactTokensForTokens", [self.base_raw, self.bound_raw,
                                                [pool.base.address, pool.quote.address], to, deadline]
        return "swapTokensForExactTokens", [self.base_raw, self.bound_raw,
                                            [pool.quote.address, pool.base.address], to, deadline]


def plan(pool: Pool, reserves: Reserves, sell: bool, qty: Decimal, limit: Decimal | None,
         slippage: Decimal) -> SwapPlan:
    """The swap for an order of `qty` base on a V2 pair; `reserves` as (base, quote) of the pool now."""
    base_raw = pool.base.to_raw(qty)
    base_reserve, quote_reserve = reserves.reserve_in, reserves.reserve_out
    if sell:
        quote_raw = get_amount_out(base_raw, base_reserve, quote_reserve)
    else:
        quote_raw = get_amount_in(base_raw, quote_reserve, base_reserve)
    return _bounded(pool, sell, qty, base_raw, quote_raw, limit, slippage)


def plan_v3(pool: Pool, state: v3math.V3PoolState, sell: bool, qty: Decimal, limit: Decimal | None,
            slippage: Decimal) -> SwapPlan:
    """The swap for an order of `qty` base on a V3 pool in `state`."""
    base_raw = pool.base.to_raw(qty)
    sell_is_zero_for_one = pool.base_is_token0
    if sell:
        quote_raw = v3math.quote_exact_input(state, sell_is_zero_for_one, base_raw)
    else:
        quote_raw = v3math.quote_exact_output(state, not sell_is_zero_for_one, base_raw)
    return _bounded(pool, sell, qty, base_raw, quote_raw, limit, slippage)


def _bounded(pool: Pool, sell: bool, qty: Decimal, base_raw: int, quote_raw: int, limit: Decimal | None,
             slippage: Decimal) -> SwapPlan:
    """The plan with its bound: the limit price, else the quote less (sell) or plus (buy) the slippage."""
    if sell:
        if limit is not None:
            bound = _raw(limit * qty, pool, ROUND_CEILING)
        else:
            bound = _raw(pool.quote.from_raw(quote_raw) * (1 - slippage), pool, ROUND_FLOOR)
    else:
        if limit is not None:
            bound = _raw(limit * qty, pool, ROUND_FLOOR)
        else:
            bound = _raw(pool.quote.from_raw(quote_raw) * (1 + slippage), pool, ROUND_CEILING)
    return SwapPlan(sell, base_raw, quote_raw, bound)


def _raw(amount: Decimal, pool: Pool, rounding: str) -> int:
    return int(amount.scaleb(pool.quote.decimals).to_integral_value(rounding))
