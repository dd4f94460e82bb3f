"""Risk in the REST API: a client's limits and usage, and the kill switches.

A client's own kill switch cancels its working orders (execution algorithms with them), stops
its WebAssembly algos and refuses its new orders; the region's does that for every client and
needs the admin role, as do another client's switch and risk view. Turning a switch off lets
orders in again and restarts the algos it stopped (unless another switch still covers them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..clients import ClientRegistry
from ..domain import ClientRecord
from ..errors import OrderError
from .deps import ApiDeps


class KillSwitchRequest(BaseModel):
    enabled: bool
    scope: Literal["client", "region"] = Field("client", description="your own orders and algos, or the "
                                               "whole region's (admin)")
    client_id: str | None = Field(None, description="with scope client: another client's switch (admin)")


class RiskControls:
    """What `POST /v1/risk/kill-switch` and `GET /v1/risk` do, for the caller's role."""

    def __init__(self, deps: ApiDeps, clients: ClientRegistry) -> None:
        self.engine, self.algos, self.risk, self.clients = deps.engine, deps.algos, deps.risk, clients

    async def kill_switch(self, req: KillSwitchRequest, caller: ClientRecord) -> dict[str, Any]:
        target: str | None = None
        if req.scope == "region":
            _needs_admin(caller, "the region's kill switch")
            if req.client_id is not None:
                raise OrderError("INVALID_REQUEST", "client_id goes with scope client, not region")
        else:
            target = req.client_id or caller.client_id
            if target != caller.client_id:
                _needs_admin(caller, "another client's kill switch")
                self.clients.get(target)  # 404 for a client that does not exist
        cancelled = await self.engine.set_kill_switch(req.enabled, target)
        stopped = resumed = 0
        if self.algos is not None and req.enabled:
            stopped = await self.algos.halt_all(target)
        elif self.algos is not None:
            resumed = await self.algos.lift(target, self.risk.kill_switch, self.risk.killed_clients)
        return {"kill_switch": req.enabled, "scope": req.scope, "client_id": target, "orders_cancelled": cancelled,
                "algos_stopped": stopped, "algos_resumed": resumed}

    def view(self, caller: ClientRecord, client_id: str | None) -> dict[str, Any]:
        """The caller's limits and usage; an admin may name another client."""
        if client_id is not None and client_id != caller.client_id:
            _needs_admin(caller, "another client's risk")
            self.clients.get(client_id)
        return self.risk.view(client_id or caller.client_id)


def _needs_admin(caller: ClientRecord, what: str) -> None:
    if not caller.is_admin:
        raise OrderError("FORBIDDEN", f"{what} needs the admin role (client {caller.client_id!r} is a "
                         f"{caller.role.value})", 403)
