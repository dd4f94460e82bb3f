"""TCA in the REST API: the report's inputs gathered for one order (an algorithm's slices, the
mid now) and the chart of its execution as SVG (`GET /v1/orders/{id}/tca.svg`).

Drawing takes tens of milliseconds of CPU: it runs in a worker thread, one chart at a time, so
the event loop keeps serving orders and market data meanwhile."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..domain import Parent
from ..tca import chart, report
from .auth import Client
from .deps import ApiDeps
from .schemas import answers


async def slices_of(deps: ApiDeps, p: Parent) -> list[Parent]:
    """An execution algorithm's slice orders (their fills and routing decisions)."""
    algo = p.decision.get("algo")
    if algo is None:
        return []
    found = [await deps.cache.get(sid) for sid in algo["progress"]["slices"]]
    return [s for s in found if s is not None]


async def order_report(deps: ApiDeps, p: Parent) -> dict[str, Any]:
    return report(p, await slices_of(deps, p), deps.marketdata.mid(p.symbol))


def snapshot(p: Parent) -> Parent:
    """What the chart reads, copied: the order keeps changing on the event loop while it is drawn."""
    return dataclasses.replace(p, decision=copy.deepcopy(p.decision), fills=list(p.fills), children=[])


def tca_routes(deps: ApiDeps, owned: Callable[[str, str], Awaitable[Parent]]) -> APIRouter:
    r = APIRouter(tags=["tca"])
    drawing = asyncio.Lock()

    @r.get("/v1/orders/{order_id}/tca.svg", response_class=Response,
           responses={**answers(None, 404)["responses"],
                      200: {"description": "the chart", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
    async def order_tca_chart(order_id: str, client: Client) -> Response:
        """The execution drawn: fills per venue over time against the mid, and the schedule."""
        p = await owned(order_id, client)
        slices = [snapshot(s) for s in await slices_of(deps, p)]
        async with drawing:
            body = await asyncio.to_thread(chart.svg, snapshot(p), slices)
        return Response(body, media_type="image/svg+xml")

    return r
