"""The tokens the venue mints and the markets its maker quotes.

The markets are the order-book simulator's (same reference prices and ticks) with coarser
lots, chosen so that every price on the tick times every quantity on the lot is a whole
number of the quote token's smallest units (tick 0.01 x lot 0.0001 = 10^-6 USDT): a settled
trade's amounts are then exactly its price and quantity, with nothing rounded on chain.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from seqmesh.runtime.venues.sim.instruments import CATALOGUE, Instrument

#: token -> decimals of its SPL mint (wrapped BTC and ETH as bridged tokens have them on Solana)
TOKEN_DECIMALS: dict[str, int] = {"BTC": 8, "ETH": 8, "USDT": 6}

Market = Instrument


def _market(symbol: str, lot: str) -> Market:
    return replace(CATALOGUE[symbol], lot=Decimal(lot), min_qty=Decimal(lot))


MARKETS: dict[str, Market] = {m.symbol: m for m in (_market("BTC/USDT", "0.0001"), _market("ETH/USDT", "0.0001"))}


def check_qty(market: Market, qty: Decimal) -> str | None:
    """Why a request for `qty` cannot be quoted, or None."""
    if not qty.is_finite() or not market.on_lot(qty):
        return f"quantity must be a positive multiple of the lot {market.lot}, got {qty}"
    if qty * market.reference_price < market.min_notional:
        return f"notional of {qty} is below the minimum {market.min_notional} {market.quote}"
    return None


def resolve(symbols: list[str]) -> list[Market]:
    unknown = [s for s in symbols if s not in MARKETS]
    if unknown:
        raise ValueError(f"unknown symbols {unknown}; the Solana venue quotes {sorted(MARKETS)}")
    return [MARKETS[s] for s in symbols]
