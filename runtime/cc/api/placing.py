"""Placing an order for the API: what `POST /v1/orders` and a stream's `submit` both do (the same
validation, risk, routing and idempotency), and how a refused body is answered by both."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..domain import OrderType, Parent, Side
from ..errors import OrderError
from ..orders.validate import check_time_in_force
from .deps import ApiDeps
from .metrics import Metrics
from .parsing import BadInput
from .schemas import OrderRequest


async def place(deps: ApiDeps, metrics: Metrics, client: str, req: OrderRequest) -> tuple[Parent, bool]:
    """(the order, created): an execution algorithm goes to its scheduler, any other order to
    the engine; a known client order id answers its order (created False)."""
    t0 = time.perf_counter()
    kind = OrderType(req.type)
    check_time_in_force(kind, req.tif)
    if kind.is_algo:
        parent, created = await deps.scheduler.submit(client, req.symbol, Side(req.side), req.quantity, kind,
                                                      req.price, req.client_order_id, req.params)
    elif req.params:
        raise OrderError("INVALID_REQUEST", f"params: a {kind} order takes none", 400)
    else:
        parent, created = await deps.engine.submit(client, req.symbol, Side(req.side), req.quantity, kind,
                                                   req.price, req.client_order_id, tif=req.tif)
    metrics.submit_latency.observe(time.perf_counter() - t0)
    if created:
        metrics.orders.labels(req.symbol, req.side, req.type).inc()
    return parent, created


def invalid_body(errors: Sequence[Mapping[str, Any]], metrics: Metrics) -> tuple[str, str, list[dict[str, Any]]]:
    """(code, message, problems) of a body the request model refused: the parsers' own code and
    message where one of them refused (they name the field), else INVALID_REQUEST naming it."""
    problems = [{"field": ".".join(str(x) for x in e["loc"] if x != "body"), "problem": e["msg"]} for e in errors]
    first = problems[0] if problems else {"field": "?", "problem": "invalid"}
    refused = errors[0].get("ctx", {}).get("error") if errors else None
    code, message = ((refused.code, str(refused)) if isinstance(refused, BadInput)
                     else ("INVALID_REQUEST", f"{first['field']}: {first['problem']}"))
    metrics.rejections.labels(code).inc()
    return code, message, problems
