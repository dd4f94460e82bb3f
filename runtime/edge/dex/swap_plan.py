"""An order as a router call: which swap, its exact amounts from the pool math, and its bound.

A sell of `qty` base pays exactly `qty` in (swapExactTokensForTokens) and takes at least
`min_out` quote; a buy takes exactly `qty` out (swapTokensForExactTokens) and pays at most
`max_in` quote. A market order's bound is the pool math's quote less the slippage allowed; a
limit price is the bound itself (a sell takes no less than price x qty, a buy pays no more).
The chain enforces the bound: a pool that moved past it reverts the swap, nothing is traded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from seqmesh.runtime.dex.v2math import Reserves, get_amount_in, get_amount_out

from .markets import Pool


@dataclass(frozen=True, slots=True)
class SwapPlan:
    sell: bool
    base_raw: int  # exact: paid in (sell) or taken out (buy)
    quote_raw: int  # the pool math's quote on the reserves read: received (sell) or paid (buy)
    bound_raw: int  # min out (sell) or max in (buy), quote units

    def args(self, pool: Pool, to: str, deadline: int) -> tuple[str, list[object]]:
        """The router function and its arguments."""
        if self.sell:
            return "swapExactTokensForTokens", [self.base_raw, self.bound_raw,
                                                [pool.base.address, pool.quote.address], to, deadline]
        return "swapTokensForExactTokens", [self.base_raw, self.bound_raw,
                                            [pool.quote.address, pool.base.address], to, deadline]


def plan(pool: Pool, reserves: Reserves, sell: bool, qty: Decimal, limit: Decimal | None,
         slippage: Decimal) -> SwapPlan:
    """The swap for an order of `qty` base; `reserves` as (base, quote) of the pool now."""
    base_raw = pool.base.to_raw(qty)
    base_reserve, quote_reserve = reserves.reserve_in, reserves.reserve_out
    if sell:
        quote_raw = get_amount_out(base_raw, base_reserve, quote_reserve)
        if limit is not None:
            bound = _raw(limit * qty, pool, ROUND_CEILING)
        else:
            bound = _raw(pool.quote.from_raw(quote_raw) * (1 - slippage), pool, ROUND_FLOOR)
    else:
        quote_raw = get_amount_in(base_raw, quote_reserve, base_reserve)
        if limit is not None:
            bound = _raw(limit * qty, pool, ROUND_FLOOR)
        else:
            bound = _raw(pool.quote.from_raw(quote_raw) * (1 + slippage), pool, ROUND_CEILING)
    return SwapPlan(sell, base_raw, quote_raw, bound)


def _raw(amount: Decimal, pool: Pool, rounding: str) -> int:
    return int(amount.scaleb(pool.quote.decimals).to_integral_value(rounding))
