"""`GET /v1/fills`: the client's fills from the ledger, in booking order, paged by position.

A page's `next` is the `after` of the following one (a client polls from its last `next`, or
follows the stream's `fills` channel); `more` says the page was full. An algo's (WASM) fills
are in `GET /v1/algos/{name}/logs`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from ..domain import Fill
from ..errors import OrderError
from .auth import Client
from .deps import ApiDeps
from .parsing import BadInput, parse_symbol
from .schemas import Doc, FillView, answers


class OrderFill(FillView):
    position: int = Field(description="where the ledger booked it: ask `after` this for the fills booked later")
    order_id: str
    child_id: str
    symbol: str
    side: str


class FillPage(Doc):
    fills: list[OrderFill]
    next: int = Field(description="`after` for the next page: the last fill's position (or this `after`)")
    more: bool = Field(description="the page is full: more fills may follow at once")


def fill_view(f: Fill) -> dict[str, Any]:
    return {"fill_id": f.fill_id, "order_id": f.parent_id, "child_id": f.child_id, "venue": f.venue,
            "symbol": f.symbol, "side": f.side.value, "price": str(f.price), "quantity": str(f.qty), "fee": str(f.fee),
            "fee_asset": f.fee_asset, "liquidity": "maker" if f.maker else "taker", "exchange_ts": f.exchange_ts,
            "booked_ns": f.booked_ns}


def fill_routes(deps: ApiDeps) -> APIRouter:
    r = APIRouter(tags=["orders"])

    @r.get("/v1/fills", **answers(FillPage))
    async def fills(client: Client, symbol: str | None = None, order_id: str | None = None,
                    after: Annotated[int, Query(ge=0, le=2**62, description="a previous page's `next`")] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        try:
            sym = parse_symbol(symbol) if symbol else None
        except BadInput as exc:
            raise OrderError(exc.code, str(exc)) from None
        page = await deps.engine.ledger.client_fill_page(client, after, limit, sym, order_id)
        return {"fills": [{**fill_view(f), "position": pos} for pos, f in page],
                "next": page[-1][0] if page else after, "more": len(page) == limit}

    return r
