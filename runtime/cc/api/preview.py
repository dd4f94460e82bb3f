"""What an order would do, without placing it: `POST /v1/orders/preview` (the router's decision
for a market or limit order and its expected cost) and `GET /v1/quotes/{symbol}` (what taking a
size would cost now, either side).

The decision is the engine's own (`prepare` and `route`, as submit calls them): the same
validation, the same candidates (balances net of what working orders hold) and the same router
on the books as they are. Nothing is written, reserved,
charged to the order rate or sent, so risk limits are not checked either: a preview says where an
order would go and at what cost, not whether it would be accepted."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from ..domain import OrderType, Side
from ..errors import OrderError
from ..routing.sor import Route
from .auth import Client
from .deps import ApiDeps
from .parsing import BadInput, parse_decimal, parse_symbol
from .schemas import Doc, OrderRequest, answers

BPS = Decimal(10_000)
ZERO = Decimal(0)


class Cost(Doc):
    side: Literal["buy", "sell"]
    quantity: str
    routed_qty: str = Field(description="what the taking allocations take now")
    resting_qty: str = Field(description="a limit order's rest, left at the venue it waits at")
    unallocated: str = Field(description="what no venue could take or rest")
    expected_notional: str | None
    expected_fees: str | None
    expected_latency_cost: str | None
    expected_avg_price: str | None = Field(description="notional / routed qty, fees left out")
    expected_all_in_price: str | None = Field(description="(notional + D x fees) / routed qty")
    expected_cost: str | None = Field(description="the router's expected_routed_cost: notional + D x (fees + "
                                      "latency cost)")
    mid: str | None = Field(description="the NBBO mid now")
    price_bps_vs_mid: str | None = Field(description="D (avg price - mid) / mid x 1e4: > 0 worse than the mid")
    cost_bps_vs_mid: str | None = Field(description="the same with fees: D (all-in price - mid) / mid x 1e4")


class Preview(Cost):
    symbol: str
    type: Literal["market", "limit"]
    price: str | None
    bid: str | None
    ask: str | None
    routing: dict[str, Any] = Field(description="the router's decision as an order's `routing` shows it: "
                                    "allocations per venue (qty, expected notional, fee, avg price), the "
                                    "single-venue alternatives, each venue's explanation")


class Quote(Doc):
    symbol: str
    quantity: str
    buy: Cost | None = None
    sell: Cost | None = None


def cost_of(route: Route) -> dict[str, Any]:
    side, mid = route.side, route.arrival_mid
    taking = [a for a in route.allocations if not a.resting]
    routed = sum((a.qty for a in taking), ZERO)
    notional = sum((a.notional for a in taking), ZERO)
    fees = sum((a.fee for a in taking), ZERO)
    latency = sum((a.latency_cost for a in taking), ZERO)
    avg = notional / routed if routed else None
    all_in = (notional + side.sign * fees) / routed if routed else None

    def bps(price: Decimal | None) -> str | None:
        return None if price is None or not mid else str(round(side.sign * (price - mid) / mid * BPS, 4))

    return {"side": side.value, "quantity": str(route.qty), "routed_qty": str(routed),
            "resting_qty": str(sum((a.qty for a in route.allocations if a.resting), ZERO)),
            "unallocated": str(route.unallocated),
            "expected_notional": str(notional) if routed else None, "expected_fees": str(fees) if routed else None,
            "expected_latency_cost": str(latency) if routed else None,
            "expected_avg_price": None if avg is None else str(avg),
            "expected_all_in_price": None if all_in is None else str(all_in),
            "expected_cost": str(sum((a.net(side) for a in taking), ZERO)) if routed else None,
            "mid": None if mid is None else str(mid), "price_bps_vs_mid": bps(avg), "cost_bps_vs_mid": bps(all_in)}


def preview_routes(deps: ApiDeps) -> APIRouter:
    r = APIRouter(tags=["orders"])
    md = deps.marketdata

    @r.post("/v1/orders/preview", **answers(Preview, 409, 413, described="where the order would go and what it "
                                            "would cost now; nothing placed"))
    async def preview(req: OrderRequest, client: Client) -> dict[str, Any]:
        if req.type not in ("market", "limit"):
            raise OrderError("INVALID_REQUEST", f"type: a preview covers market and limit orders, not {req.type}")
        if req.params:
            raise OrderError("INVALID_REQUEST", f"params: a {req.type} order takes none")
        engine = deps.engine
        route = engine.route(engine.prepare(req.symbol, Side(req.side), req.quantity, OrderType(req.type), req.price,
                                            client=client))
        bid, ask = md.best(req.symbol)
        return {"symbol": req.symbol, "type": req.type, "price": None if req.price is None else str(req.price),
                "bid": None if bid is None else str(bid), "ask": None if ask is None else str(ask),
                **cost_of(route), "routing": route.summary()}

    @r.get("/v1/quotes/{symbol:path}", **answers(Quote, 404, 409))
    async def quote(symbol: str, client: Client, qty: Annotated[str, Query(description="base quantity")],
                    side: Literal["buy", "sell"] | None = None) -> dict[str, Any]:
        """Taking `qty` now with a market order: its cost per side (both without `side`); a size
        beyond the live books shows what part of it they fill."""
        try:
            s, q = parse_symbol(symbol), parse_decimal(qty, "qty")
        except BadInput as exc:
            raise OrderError(exc.code, str(exc)) from None
        if s not in md.symbols():
            raise OrderError("UNKNOWN_SYMBOL", f"no venue lists {s}; see GET /v1/pairs", 404)
        sides = [Side(side)] if side else [Side.BUY, Side.SELL]
        engine = deps.engine
        return {"symbol": s, "quantity": str(q),
                **{x.value: cost_of(engine.route(engine.prepare(s, x, q, OrderType.MARKET, None, client=client), False))
                   for x in sides}}

    return r
