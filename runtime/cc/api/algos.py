"""The algo part of the REST API: upload a .wasm, start, stop, list, logs, delete.

An upload is the raw module as the body (`Content-Type: application/wasm`) with the rest in
the query: `POST /v1/algos?name=mm&symbol=BTC/USDT&edges=binance-sim,okx-sim&param=k=v&start=true`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ..algos.manager import AlgoManager
from ..errors import OrderError
from .auth import Client
from .parsing import BadInput, parse_symbol
from .schemas import Algo, answers

MAX_UPLOAD = (1 << 20) + 1


def algo_routes(algos: AlgoManager) -> APIRouter:
    r = APIRouter(prefix="/v1/algos", tags=["algos"])

    @r.post("", status_code=201, openapi_extra={"requestBody": {"required": True, "content": {
        "application/wasm": {"schema": {"type": "string", "format": "binary"}}}}},
        **answers(Algo, 404, 409, 413, 415, status=201, described="stored and pushed: each edge's state"))
    async def deploy(request: Request, client: Client, name: str, symbol: str,
                     edges: Annotated[str, Query(description="comma-separated venues")],
                     param: Annotated[list[str] | None, Query(description="key=value, repeatable")] = None,
                     start: bool = False) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("application/wasm", "application/octet-stream"):
            raise OrderError("UNSUPPORTED_MEDIA_TYPE", "send the module as the body with Content-Type: "
                             f"application/wasm (got {kind or 'none'})", 415)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD:
                raise OrderError("INVALID_WASM", "the module is larger than 1 MiB", 413, reason="TooLarge")
        params: dict[str, str] = {}
        for item in param or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise OrderError("INVALID_PARAMS", f"param {item!r} must be key=value")
            params[key] = value
        try:
            sym = parse_symbol(symbol)
        except BadInput as exc:
            raise OrderError(exc.code, str(exc)) from None
        return await algos.deploy(name=name, wasm=bytes(body), symbol=sym,
                                  edges=[e.strip() for e in edges.split(",") if e.strip()], params=params,
                                  running=start, owner=client)

    @r.get("", **answers(list[Algo]))
    async def list_algos(client: Client) -> list[dict[str, Any]]:
        return await algos.statuses(client)

    @r.get("/{name}", **answers(Algo, 404))
    async def get_algo(name: str, client: Client) -> dict[str, Any]:
        algos.visible(name, client)
        return (await algos.statuses(client, name))[0]

    @r.post("/{name}/start", **answers(Algo, 404, 409))
    async def start_algo(name: str, client: Client) -> dict[str, Any]:
        return await algos.set_running(name, True, client)

    @r.post("/{name}/stop", **answers(Algo, 404, 409))
    async def stop_algo(name: str, client: Client) -> dict[str, Any]:
        return await algos.set_running(name, False, client)

    @r.delete("/{name}", **answers(Algo, 404, 409))
    async def delete_algo(name: str, client: Client) -> dict[str, Any]:
        return await algos.delete(name, client)

    @r.get("/{name}/logs", **answers(dict[str, list[str]], 404, described="per edge: its log lines"))
    async def algo_logs(name: str, client: Client) -> dict[str, list[str]]:
        return await algos.logs(name, client)

    return r
