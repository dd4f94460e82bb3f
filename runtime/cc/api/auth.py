"""Who is calling: the client behind the request's API key (a FastAPI dependency)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..errors import OrderError


async def client_of(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request
    token = (authorization or "").removeprefix("Bearer ").strip()
    client: str | None = request.app.state.api_keys.get(token)
    if client is None:
        raise OrderError("UNAUTHORIZED", "send 'Authorization: Bearer <api key>'", 401)
    return client


Client = Annotated[str, Depends(client_of)]
