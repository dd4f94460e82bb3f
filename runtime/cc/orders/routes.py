"""A route's allocations turned into child orders of a parent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ..domain import Child, OrderType, Parent, Side
from ..errors import OrderError
from ..routing.sor import Route
from .ids import b36


def venue_limit(parent: Parent, price: Decimal, venue: str, tick: Callable[[str, str], Decimal | None]) -> Decimal:
    """`price` on the venue's tick, never worse for the parent (a buy rounds down, a sell up)."""
    step = tick(venue, parent.symbol)
    if step is None:
        raise OrderError("NO_LIVE_VENUE", f"{venue} does not list {parent.symbol} any more", 409)
    steps = price / step
    return steps.to_integral_value("ROUND_FLOOR" if parent.side is Side.BUY else "ROUND_CEILING") * step


def children_of(parent: Parent, route: Route, tick: Callable[[str, str], Decimal | None], now_ns: int) -> list[Child]:
    """One child per allocation, named `<order id>-<n>` (n counts across reroutes), appended to
    the parent. A limit child's price is the parent's limit rounded to the venue's tick without
    ever worsening it."""
    start = len(parent.children)
    out = []
    for k, a in enumerate(route.allocations, start):
        price = None
        if parent.type is OrderType.LIMIT:
            assert parent.price is not None
            price = venue_limit(parent, parent.price, a.venue, tick)
        child = Child(f"{parent.order_id}-{b36(k)}", parent.order_id, a.venue, a.qty, price,
                      parent.type, created_ns=now_ns, updated_ns=now_ns)
        parent.children.append(child)
        out.append(child)
    return out
