"""Who is calling: the client the API gate (`middleware.ApiGate`) found behind the request's key.

Endpoints take `Client` (the caller's id: whatever it sees or changes is that client's),
`Caller` (its record: id and role) or `Admin` (the record, refused with 403 unless the role
is admin). A `monitor` client (a Prometheus scrape's key) is refused by all of them: it reads
`/metrics` (`MetricsReader`: admin or monitor) and nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..domain import ClientRecord, Role
from ..errors import OrderError


def _gated(request: Request) -> ClientRecord:
    client: ClientRecord | None = request.scope.get("state", {}).get("client")
    if client is None:  # a path the gate lets through without a key (PUBLIC_PATHS) asked for one
        raise OrderError("UNAUTHORIZED", "send 'Authorization: Bearer <api key>'", 401)
    return client


async def caller_of(request: Request) -> ClientRecord:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request
    client = _gated(request)
    if client.role is Role.MONITOR:
        raise OrderError("FORBIDDEN", f"client {client.client_id!r} is a monitor: it reads /metrics only", 403)
    return client


async def metrics_reader_of(request: Request) -> ClientRecord:
    client = _gated(request)
    if client.role not in (Role.ADMIN, Role.MONITOR):
        raise OrderError("FORBIDDEN", f"client {client.client_id!r} is a {client.role.value}: /metrics needs the "
                         "monitor or admin role (it shows every venue, peer and algo of the region)", 403)
    return client


async def client_of(caller: Annotated[ClientRecord, Depends(caller_of)]) -> str:
    return caller.client_id


async def admin_of(caller: Annotated[ClientRecord, Depends(caller_of)]) -> ClientRecord:
    if not caller.is_admin:
        raise OrderError("FORBIDDEN", f"client {caller.client_id!r} is a {caller.role.value}: this needs the admin "
                         "role", 403)
    return caller


Client = Annotated[str, Depends(client_of)]
Caller = Annotated[ClientRecord, Depends(caller_of)]
Admin = Annotated[ClientRecord, Depends(admin_of)]
MetricsReader = Annotated[ClientRecord, Depends(metrics_reader_of)]
