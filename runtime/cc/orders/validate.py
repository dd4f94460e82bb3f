"""What an order must be before risk or routing look at it: a listed symbol, a positive
quantity and price on the finest lot and tick any venue accepts, a price only where it means
something, a size some venue takes. Refusals name the problem; nothing is written."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

from ..domain import OrderType, TimeInForce
from ..errors import OrderError
from ..marketdata import VenueBook
from ..routing.sor import VenueCandidate

#: digits for the grid checks: a remainder of a huge value by a tiny step must not overflow the
#: default 28-digit context (the API bounds its numbers well inside this).
GRID_PRECISION = 80


def validate(symbol: str, qty: Decimal, type: OrderType, price: Decimal | None, books: Sequence[VenueBook],
             tif: TimeInForce = TimeInForce.GTC) -> None:
    check_time_in_force(type, tif)
    if not books:
        raise OrderError("UNKNOWN_SYMBOL", f"no venue lists {symbol!r}; see GET /v1/pairs", 400)
    if qty <= 0:
        raise OrderError("NON_POSITIVE_QUANTITY", "quantity must be positive", 400)
    if type is OrderType.LIMIT and price is None:
        raise OrderError("LIMIT_WITHOUT_PRICE", "a limit order needs a price", 400)
    if type is OrderType.MARKET and price is not None:
        raise OrderError("MARKET_WITH_PRICE", "a market order takes no price", 400)
    finest_lot = min(vb.qtys.step for vb in books)
    with localcontext(prec=GRID_PRECISION):
        if qty % finest_lot:
            raise OrderError("PRECISION", f"quantity {qty} is finer than the smallest lot {finest_lot} "
                             f"of any venue listing {symbol}", 400)
        if price is not None:
            if price <= 0:
                raise OrderError("NON_POSITIVE_PRICE", "price must be positive", 400)
            finest_tick = min(vb.prices.step for vb in books)
            if price % finest_tick:
                raise OrderError("PRECISION", f"price {price} is finer than the smallest tick {finest_tick}", 400)


def check_time_in_force(type: OrderType, tif: TimeInForce) -> None:
    """Fill-or-kill and post-only are a plain limit order's (an algorithm places its own slices)."""
    if tif is not TimeInForce.GTC and type is not OrderType.LIMIT:
        raise OrderError("LIMIT_ONLY", f"time_in_force {tif.value}: only a limit order can be "
                         "fill-or-kill or post-only", 400)


def untakeable(symbol: str, qty: Decimal, price: Decimal | None, ref: Decimal | None,
               candidates: Sequence[VenueCandidate], tif: TimeInForce = TimeInForce.GTC) -> OrderError:
    """Why a route placed nothing: below every live venue's minimum (size, or notional at `ref`:
    the limit, else the far side of the book), else no liquidity (a market order), no venue to
    rest at (a limit order), no one venue that fills all of it (FOK) or none where it would rest
    without taking (post-only)."""
    too_small = [c for c in candidates if qty < c.min_qty or (ref is not None and ref * qty < c.min_notional)]
    if candidates and len(too_small) == len(candidates):
        mins = "; ".join(f"{c.venue}: {c.min_qty}" + (f", notional {c.min_notional}" if c.min_notional else "")
                         for c in too_small)
        return OrderError("BELOW_VENUE_MINIMUM", f"{qty} {symbol} is below the minimum of every live venue "
                          f"({mins})", 400)
    if candidates and all(c.balance_short for c in candidates):  # the accounts the order would trade on
        return OrderError("INSUFFICIENT_BALANCE", f"no venue account can pay for {qty} {symbol}: "
                          + "; ".join(c.balance_short for c in candidates), 409)
    if tif is TimeInForce.FOK:
        return OrderError("CANNOT_FILL_ENTIRELY", f"no live venue alone can fill all {qty} {symbol} at {price} or "
                          "better now (fill-or-kill is not split across venues); nothing was placed", 409)
    if tif is TimeInForce.POST_ONLY:
        return OrderError("POST_ONLY_WOULD_TAKE", f"{qty} {symbol} at {price} would take liquidity at every live "
                          "venue that could hold it; nothing was placed", 409)
    if price is None:
        return OrderError("NO_LIQUIDITY", f"no live venue can fill any of {qty} {symbol} now", 409)
    return OrderError("NO_LIQUIDITY", f"no live venue can take or rest {qty} {symbol} at {price} now", 409)
