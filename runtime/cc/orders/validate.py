"""What an order must be before risk or routing look at it: a listed symbol, a positive
quantity and price on the finest lot and tick any venue accepts, a price only where it means
something. Refusals name the problem; nothing is written."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ..domain import OrderType
from ..errors import OrderError
from ..marketdata import VenueBook


def validate(symbol: str, qty: Decimal, type: OrderType, price: Decimal | None, books: Sequence[VenueBook]) -> None:
    if not books:
        raise OrderError("UNKNOWN_SYMBOL", f"no venue lists {symbol!r}; see GET /v1/pairs", 400)
    if qty <= 0:
        raise OrderError("NON_POSITIVE_QUANTITY", "quantity must be positive", 400)
    if type is OrderType.LIMIT and price is None:
        raise OrderError("LIMIT_WITHOUT_PRICE", "a limit order needs a price", 400)
    if type is OrderType.MARKET and price is not None:
        raise OrderError("MARKET_WITH_PRICE", "a market order takes no price", 400)
    finest_lot = min(vb.qtys.step for vb in books)
    if qty % finest_lot:
        raise OrderError("PRECISION", f"quantity {qty} is finer than the smallest lot {finest_lot} "
                         f"of any venue listing {symbol}", 400)
    if price is not None:
        if price <= 0:
            raise OrderError("NON_POSITIVE_PRICE", "price must be positive", 400)
        finest_tick = min(vb.prices.step for vb in books)
        if price % finest_tick:
            raise OrderError("PRECISION", f"price {price} is finer than the smallest tick {finest_tick}", 400)
