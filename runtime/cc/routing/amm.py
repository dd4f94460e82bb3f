"""An AMM pool as the router sees it: the exact Uniswap V2 curve with its fee, not levels.

What a swap of q base pays or brings is computed in the pool's raw integer units with the
same floor divisions as the pair contract (runtime/dex/v2math.py), so an allocation's expected
notional is what the chain will settle at these reserves. Ranking against order-book levels
needs the curve's marginal price (the price of the next unit after t taken) and its inverse
(how much can be taken before the marginal price reaches p); those are floats, as the rest of
the router's ranking is.

With X quote and Y base in the pool and a fee of 0.3% (997/1000):
  buying t base costs X·t·1000 / ((Y - t)·997), marginal 1000·X·Y / (997·(Y - t)²);
  selling t base brings 997·t·X / (1000·Y + 997·t), marginal 997·1000·X·Y / (1000·Y + 997·t)².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from seqmesh.runtime.dex.v2math import FEE_DENOMINATOR, FEE_NUMERATOR, V2MathError, get_amount_in, get_amount_out


class Curve(Protocol):
    """What the router asks of a pool: V2's curve here, V3's across its ticks (amm_v3.py)."""

    @property
    def gas_cost(self) -> Decimal: ...

    @property
    def pool(self) -> str: ...

    @property
    def mid(self) -> Decimal: ...

    def max_buy(self) -> Decimal: ...

    def max_sell(self) -> Decimal | None: ...

    def amount(self, buy: bool, qty: Decimal) -> Decimal | None: ...

    def marginal(self, buy: bool, taken: float) -> float: ...

    def taken_at(self, buy: bool, price: float) -> float: ...


@dataclass(frozen=True, slots=True)
class PoolCurve:
    base_reserve: int  # raw units
    quote_reserve: int
    base_decimals: int
    quote_decimals: int
    gas_cost: Decimal  # quote currency, per swap: a fixed cost, whatever the size
    pool: str = ""

    @property
    def _xy(self) -> tuple[float, float]:
        return (self.quote_reserve / 10.0 ** self.quote_decimals, self.base_reserve / 10.0 ** self.base_decimals)

    def raw_base(self, qty: Decimal) -> int:
        return int(qty.scaleb(self.base_decimals).to_integral_value(ROUND_FLOOR))

    def quote(self, raw: int) -> Decimal:
        return Decimal(raw).scaleb(-self.quote_decimals)

    @property
    def mid(self) -> Decimal:
        return self.quote(self.quote_reserve) / Decimal(self.base_reserve).scaleb(-self.base_decimals)

    def max_buy(self) -> Decimal:
        """Most base a buy can take (all but one raw unit of the reserve)."""
        return Decimal(self.base_reserve - 1).scaleb(-self.base_decimals)

    def max_sell(self) -> Decimal | None:
        """A V2 pair takes any amount in (None: no bound)."""
        return None

    def amount(self, buy: bool, qty: Decimal) -> Decimal | None:
        """Quote paid to buy `qty` base, or brought by selling it; None past what the pool holds."""
        raw = self.raw_base(qty)
        if raw <= 0:
            return Decimal(0)
        try:
            if buy:
                return self.quote(get_amount_in(raw, self.quote_reserve, self.base_reserve))
            return self.quote(get_amount_out(raw, self.base_reserve, self.quote_reserve))
        except V2MathError:
            return None

    def marginal(self, buy: bool, taken: float) -> float:
        """Quote per base of the next unit after `taken` base (inf buying past the reserve)."""
        x, y = self._xy
        if buy:
            left = y - taken
            return math.inf if left <= 0 else FEE_DENOMINATOR * x * y / (FEE_NUMERATOR * left * left)
        d = FEE_DENOMINATOR * y + FEE_NUMERATOR * taken
        return FEE_NUMERATOR * FEE_DENOMINATOR * x * y / (d * d)

    def taken_at(self, buy: bool, price: float) -> float:
        """Base taken when the marginal price reaches `price` (0 if it already has)."""
        if price <= 0:
            return 0.0 if buy else math.inf
        x, y = self._xy
        if buy:
            return max(y - math.sqrt(FEE_DENOMINATOR * x * y / (FEE_NUMERATOR * price)), 0.0)
        return max((math.sqrt(FEE_NUMERATOR * FEE_DENOMINATOR * x * y / price) - FEE_DENOMINATOR * y)
                   / FEE_NUMERATOR, 0.0)
