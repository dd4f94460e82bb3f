"""`PATCH /v1/orders/{id}`: a resting limit order's new quantity and/or limit, amended in place at
its venue where the venue allows it (OKX; Binance spot has no amend that keeps the order). What
may be amended and what happens is the engine's (`OrderEngine.amend`, docs/api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter

from ..domain import Parent
from .auth import Client
from .deps import ApiDeps
from .schemas import AmendRequest, Order, answers


def amend_routes(deps: ApiDeps, owned: Callable[[str, str], Awaitable[Parent]],
                 order_view: Callable[..., dict[str, Any]]) -> APIRouter:
    r = APIRouter(tags=["orders"])

    @r.patch("/v1/orders/{order_id}", **answers(Order, 403, 404, 409, described="amended: the order now"))
    async def amend(order_id: str, req: AmendRequest, client: Client) -> dict[str, Any]:
        parent = await owned(order_id, client)
        return order_view(await deps.engine.amend(parent, req.quantity, req.price), detail=True)

    return r
