"""Instruments the simulator lists, with the filters a venue enforces."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Instrument:
    symbol: str  # ccxt unified, e.g. "BTC/USDT"
    tick: Decimal  # price increment
    lot: Decimal  # quantity increment
    min_qty: Decimal
    min_notional: Decimal
    reference_price: Decimal  # where the synthetic mid starts

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def venue_id(self) -> str:
        """The exchange's market id (`BTCUSDT`)."""
        return self.base + self.quote

    def on_tick(self, price: Decimal) -> bool:
        return price > 0 and price % self.tick == 0

    def on_lot(self, qty: Decimal) -> bool:
        return qty > 0 and qty % self.lot == 0


def _inst(symbol: str, tick: str, lot: str, min_notional: str, ref: str) -> Instrument:
    return Instrument(symbol, Decimal(tick), Decimal(lot), Decimal(lot), Decimal(min_notional), Decimal(ref))


CATALOGUE: dict[str, Instrument] = {
    i.symbol: i
    for i in (
        _inst("BTC/USDT", "0.01", "0.00001", "5", "65000"),
        _inst("ETH/USDT", "0.01", "0.0001", "5", "3500"),
        _inst("SOL/USDT", "0.01", "0.001", "5", "150"),
        _inst("XRP/USDT", "0.0001", "0.1", "5", "0.6"),
        _inst("ETH/BTC", "0.00001", "0.0001", "0.0001", "0.054"),
    )
}


def resolve(symbols: list[str]) -> list[Instrument]:
    unknown = [s for s in symbols if s not in CATALOGUE]
    if unknown:
        raise ValueError(f"unknown symbols {unknown}; the simulator lists {sorted(CATALOGUE)}")
    return [CATALOGUE[s] for s in symbols]
