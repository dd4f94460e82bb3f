"""The venue's market maker: levels around a seeded mid, and the price of a quote for a size.

The mid takes a seeded random walk (`volatility_bps` per step, 0 holds it still). A quote
for a size sweeps the maker's levels on the far side and charges their average, rounded to
the tick against the taker: a larger request gets a worse price, as it would from a book.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .markets import Market

Level = tuple[Decimal, Decimal]  # price, quantity


@dataclass(frozen=True)
class MakerSettings:
    spread_bps: Decimal = Decimal(4)  # between the best bid and the best ask
    step_bps: Decimal = Decimal(2)  # between one level and the next
    levels: int = 10
    level_notional: Decimal = Decimal(50_000)  # quote currency per level
    volatility_bps: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        if self.levels < 1 or self.spread_bps < 0 or self.step_bps < 0 or self.level_notional <= 0:
            raise ValueError("maker needs at least one level, spread and step >= 0 and a positive level size")
        if self.volatility_bps < 0:
            raise ValueError(f"volatility must be >= 0 bps, got {self.volatility_bps}")


class Maker:
    def __init__(self, markets: list[Market], seed: int, settings: MakerSettings) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.settings = settings
        self.mid = {m.symbol: m.reference_price for m in markets}
        self.version = 1  # changes whenever the levels do
        self._rng = random.Random(seed)

    def step(self) -> None:
        vol = self.settings.volatility_bps
        if not vol:
            return
        for symbol, mid in self.mid.items():
            move = Decimal(self._rng.gauss(0, float(vol))).quantize(Decimal("0.0001"))
            self.mid[symbol] = mid * (1 + move / 10_000)
        self.version += 1

    def levels(self, symbol: str) -> tuple[list[Level], list[Level]]:
        """Bids (best first) and asks (best first), on the tick and lot."""
        m, s = self.markets[symbol], self.settings
        mid = self.mid[symbol]
        bids, asks = [], []
        for i in range(s.levels):
            off = (s.spread_bps / 2 + s.step_bps * i) / 10_000
            bid = (mid * (1 - off) / m.tick).to_integral_value(ROUND_FLOOR) * m.tick
            ask = (mid * (1 + off) / m.tick).to_integral_value(ROUND_CEILING) * m.tick
            qty = (s.level_notional / mid / m.lot).to_integral_value(ROUND_FLOOR) * m.lot
            bids.append((bid, qty))
            asks.append((ask, qty))
        return bids, asks

    def price(self, symbol: str, buy: bool, qty: Decimal) -> Decimal | None:
        """What the maker charges a taker for `qty` (None when it is more than all its levels)."""
        m = self.markets[symbol]
        bids, asks = self.levels(symbol)
        left, cost = qty, Decimal(0)
        for price, size in asks if buy else bids:
            take = min(left, size)
            cost += take * price
            left -= take
            if not left:
                break
        if left:
            return None
        rounding = ROUND_CEILING if buy else ROUND_FLOOR
        return (cost / qty / m.tick).to_integral_value(rounding) * m.tick
