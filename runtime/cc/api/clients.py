"""The client registry in the REST API (admin only, but `GET /v1/clients/me`): create a client
(its key is in that answer and nowhere else, ever), list, show, revoke."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..clients import ClientRegistry
from ..domain import Role
from ..errors import OrderError
from .auth import Admin, Caller
from .schemas import ClientInfo, answers


class ClientRequest(BaseModel):
    client_id: str = Field(examples=["alice"], description="1-63 of [a-z0-9._-], starting with a letter or digit")
    role: Literal["trader", "admin", "monitor"] = Field("trader", description="monitor: reads /metrics only")
    requests_per_s: float | None = Field(None, gt=0, le=1_000_000, description="API requests per second "
                                         "(default: the region's)")


def client_routes(clients: ClientRegistry) -> APIRouter:
    r = APIRouter(prefix="/v1/clients", tags=["clients"])

    @r.post("", status_code=201, **answers(ClientInfo, 403, 409, 413, status=201, described="the client and its key"))
    async def create_client(req: ClientRequest, admin: Admin) -> dict[str, Any]:
        """A new client; `key` is shown in this answer only (the region keeps its SHA-256)."""
        record, key = await clients.create(req.client_id, Role(req.role), req.requests_per_s)
        return {**record.view(), "key": key}

    @r.get("", **answers(list[ClientInfo], 403))
    async def list_clients(admin: Admin) -> list[dict[str, Any]]:
        return [c.view() for c in clients.clients()]

    @r.get("/me", **answers(ClientInfo))
    async def whoami(caller: Caller) -> dict[str, Any]:
        return caller.view()

    @r.get("/{client_id}", **answers(ClientInfo, 403, 404))
    async def get_client(client_id: str, admin: Admin) -> dict[str, Any]:
        return clients.get(client_id).view()

    @r.delete("/{client_id}", **answers(ClientInfo, 403, 404, 409))
    async def revoke_client(client_id: str, admin: Admin) -> dict[str, Any]:
        """Its key stops working at once; its orders and positions stay in the ledger."""
        if client_id == admin.client_id:
            raise OrderError("CANNOT_REVOKE_SELF", "an admin cannot revoke its own key (ask another admin)", 409)
        return (await clients.revoke(client_id)).view()

    return r
