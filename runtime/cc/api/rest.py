"""The client REST API (FastAPI; OpenAPI at /openapi.json). Every response is JSON; every
refusal is a 4xx with `{"error": {"code", "message", ...}}` and leaves the ledger untouched."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as StarletteJSONResponse
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from seqmesh.runtime.dex.v3math import mid_of
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain import Parent, ParentState
from ..errors import OrderError
from ..marketdata import MarketData
from ..pools import PoolView, swap_gas_native
from ..routing.amm_v3 import V3_KIND, base_is_token0
from ..ui.routes import dashboard_routes
from .algos import algo_routes
from .amend import amend_routes
from .auth import Caller, Client, MetricsReader
from .clients import client_routes
from .credentials import credential_routes
from .deps import ApiDeps
from .fills import fill_routes
from .metrics import Metrics
from .middleware import ApiGate
from .openapi import without_unsent_422
from .parsing import BadInput, parse_symbol
from .placing import invalid_body, place
from .preview import preview_routes
from .ratelimit import RequestLimiter
from .risk import KillSwitchRequest, RiskControls
from .schemas import (
    CLIENT_ORDER_ID,
    Bbo,
    Book,
    Edge,
    Health,
    KillSwitch,
    Nbbo,
    Order,
    OrderRequest,
    Pair,
    Peer,
    Pool,
    Position,
    RemoteOrder,
    Risk,
    Tca,
    Trade,
    answers,
)
from .stream import stream_routes
from .tca import order_report, tca_routes


class JSONResponse(StarletteJSONResponse):
    """JSON rendered by orjson: every response of this API. (FastAPI's own ORJSONResponse, the
    same few lines, is deprecated since 0.165.) A JSONResponse, so the spec shows each route's
    declared document."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


#: FastAPI's and Starlette's own refusals, by status: their code in this API's errors
HTTP_CODES = {400: "INVALID_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE",
              415: "UNSUPPORTED_MEDIA_TYPE"}


def _error(status: int, code: str, message: str, **detail: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **detail}}, status_code=status)


def pool_view(v: PoolView, md: MarketData) -> dict[str, Any]:
    st, gas = v.state, md.pools.gas(v.venue)
    if st.kind == V3_KIND:  # no reserves: liquidity at a price, and the ticks around it
        depth: dict[str, Any] = {"liquidity": st.liquidity, "tick": st.tick, "initialized_ticks": len(st.ticks),
                                 "mid": str(mid_of(int(st.sqrt_price_x96), base_is_token0(st), st.base_decimals,
                                                   st.quote_decimals))}
    else:
        base = Decimal(st.base_reserve).scaleb(-st.base_decimals)
        quote = Decimal(st.quote_reserve).scaleb(-st.quote_decimals)
        depth = {"base_reserve": str(base), "quote_reserve": str(quote), "mid": str(quote / base) if base else None}
    out: dict[str, Any] = {
        "venue": v.venue, "region": v.region, "remote": v.remote, "symbol": st.symbol, "pool": st.pool,
        "kind": st.kind, "fee": str(Decimal(st.fee_ppm) / 1_000_000), **depth, "block": st.block_number,
        "live": md.pools.is_live(v.venue),
        "ts": {"exchange_ts": st.ts.exchange_ts, "edge_recv_ts": st.ts.edge_recv_ts, "cc_proc_ts": st.ts.cc_proc_ts}}
    if gas is not None:
        rate = md.fee_rate(gas.native_symbol, st.symbol.split("/")[1])
        native = swap_gas_native(gas)
        out["gas"] = {"chain": gas.chain, "block": gas.block_number, "base_fee_wei": gas.base_fee_wei,
                      "priority_fee_wei": gas.priority_fee_wei, "swap_gas": gas.swap_gas,
                      "swap_cost": f"{native} {gas.native_symbol}",
                      "swap_cost_quote": None if rate is None else str(native * rate),
                      "confirmation_s": gas.block_time_s * max(gas.confirmations, 1)}
    return out


def order_view(p: Parent, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": p.order_id, "client_order_id": p.client_order_id or None, "symbol": p.symbol,
        "side": p.side.value, "type": p.type.value, "quantity": str(p.qty),
        "price": None if p.price is None else str(p.price), "time_in_force": p.tif.value,
        "state": p.state.value, "filled": str(p.filled),
        "avg_price": str(sum(f.price * f.qty for f in p.fills) / p.filled) if p.filled else None,
        "reason": p.reason or None, "created_ns": p.created_ns, "updated_ns": p.updated_ns,
    }
    if detail:
        out["children"] = [{"child_id": c.child_id, "venue": c.venue, "quantity": str(c.qty),
                            "price": None if c.price is None else str(c.price), "state": c.state,
                            "filled": str(c.filled), "venue_order_id": c.venue_order_id or None,
                            "reason": c.reason or None} for c in p.children]
        out["fills"] = [{"fill_id": f.fill_id, "venue": f.venue, "price": str(f.price), "quantity": str(f.qty),
                         "fee": str(f.fee), "fee_asset": f.fee_asset, "liquidity": "maker" if f.maker else "taker",
                         "exchange_ts": f.exchange_ts, "booked_ns": f.booked_ns} for f in p.fills]
        out["routing"] = p.decision.get("route")
    algo = p.decision.get("algo")
    if algo is not None:
        prog = algo["progress"]
        out["algo"] = {"params": algo["params"], "slices": list(prog["slices"]), "decisions": prog["n"],
                       "market_volume": prog["volume"], "refusals": prog["refusals"],
                       "last_refusal": prog["last_refusal"], "ending": algo.get("ending"),
                       "projected_fill": prog.get("projected_fill")}
        if detail:
            out["algo"]["plan"] = prog["plan"]
    elif p.algo_parent:
        out["algo_parent"] = p.algo_parent
    return out


def build_app(deps: ApiDeps, metrics: Metrics) -> FastAPI:
    engine, mesh, algos, region = deps.engine, deps.mesh, deps.algos, deps.settings.region
    app = FastAPI(title="seqmesh Central Coordinator", version="0.1.0", default_response_class=JSONResponse,
                  description=f"Client API of the {region} region's CC.")
    limiter = RequestLimiter(time.monotonic)  # one bucket per client, for its requests and stream messages
    app.add_middleware(ApiGate, clients=deps.clients, limiter=limiter,
                       settings=deps.settings, on_refusal=lambda code: metrics.rejections.labels(code).inc())
    controls = RiskControls(deps, deps.clients)
    md = deps.marketdata

    @app.exception_handler(OrderError)
    async def _order_error(request: Request, exc: OrderError) -> JSONResponse:
        metrics.rejections.labels(exc.code).inc()
        return _error(exc.status, exc.code, exc.message, **exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """FastAPI's own refusals (a body that is not JSON, an unknown path) in this API's form."""
        code = HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code
        metrics.rejections.labels(code).inc()
        answer = _error(exc.status_code, code, message)
        answer.headers.update(exc.headers or {})
        return answer

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message, problems = invalid_body(exc.errors(), metrics)
        return _error(400, code, message, problems=problems)

    async def owned(order_id: str, client: str) -> Parent:
        p = await deps.cache.get(order_id)
        if p is None or p.client != client:  # another client's order does not exist for you
            raise OrderError("ORDER_NOT_FOUND", f"no order {order_id!r}", 404)
        return p

    def parsed_symbol(symbol: str) -> str:
        try:
            return parse_symbol(symbol)
        except BadInput as exc:
            raise OrderError(exc.code, str(exc), 400) from None

    def symbol_param(symbol: str) -> str:
        s = parsed_symbol(symbol)
        if s not in md.symbols():
            raise OrderError("UNKNOWN_SYMBOL", f"no venue lists {s}; see GET /v1/pairs", 404)
        return s

    @app.post("/v1/orders", status_code=201, **answers(
        Order, 403, 409, 413, status=201, described="accepted: the order, its children, fills and routing",
        also={200: (Order, "a known client_order_id with the same order: that order")}))
    async def submit(req: OrderRequest, client: Client) -> JSONResponse:
        parent, created = await place(deps, metrics, client, req)
        return JSONResponse(order_view(parent, detail=True), status_code=201 if created else 200)

    @app.get("/v1/orders", **answers(list[Order]))
    async def list_orders(client: Client, symbol: str | None = None, state: ParentState | None = None,
                          limit: Annotated[int, Query(ge=1, le=1_000_000)] = 500,
                          client_order_id: Annotated[str | None, Query(pattern=CLIENT_ORDER_ID)] = None,
                          ) -> list[dict[str, Any]]:
        """The latest orders, oldest first; with `client_order_id`, the order it names here (if any):
        what a client that failed over from this region looks up once it is back (docs/api.md)."""
        sym = parsed_symbol(symbol) if symbol else None
        if client_order_id is not None:
            known = await deps.cache.by_client_order_id(client, client_order_id)
            found = [known] if known is not None else []
            return [order_view(p) for p in found
                    if (sym is None or p.symbol == sym) and (state is None or p.state == state)]
        orders = await deps.cache.client_orders(client, sym, state.value if state else None, limit)
        return [order_view(p) for p in orders]

    @app.get("/v1/orders/{order_id}", **answers(Order, 404))
    async def get_order(order_id: str, client: Client) -> dict[str, Any]:
        return order_view(await owned(order_id, client), detail=True)

    @app.delete("/v1/orders/{order_id}", **answers(Order, 404, 409))
    async def cancel(order_id: str, client: Client) -> dict[str, Any]:
        return order_view(await engine.cancel(await owned(order_id, client)), detail=True)

    @app.post("/v1/orders/{order_id}/pause", **answers(Order, 404, 409))
    async def pause(order_id: str, client: Client) -> dict[str, Any]:
        """Hold an execution algorithm: no new slices (working ones keep working) until resumed."""
        return order_view(await deps.scheduler.pause(await owned(order_id, client)), detail=True)

    @app.post("/v1/orders/{order_id}/resume", **answers(Order, 404, 409))
    async def resume(order_id: str, client: Client) -> dict[str, Any]:
        return order_view(await deps.scheduler.resume(await owned(order_id, client)), detail=True)

    @app.get("/v1/orders/{order_id}/tca", **answers(Tca, 404))
    async def order_tca(order_id: str, client: Client) -> dict[str, Any]:
        return await order_report(deps, await owned(order_id, client))

    app.include_router(tca_routes(deps, owned))
    app.include_router(amend_routes(deps, owned, order_view))
    app.include_router(preview_routes(deps))
    app.include_router(fill_routes(deps))
    app.include_router(stream_routes(deps, metrics, order_view, limiter))
    if deps.credentials is not None:
        app.include_router(credential_routes(deps.credentials))

    @app.get("/v1/positions", **answers(list[Position]))
    async def positions(client: Client) -> list[dict[str, Any]]:
        return [p.view(md.mid(s)) for s, p in sorted(deps.positions.by_client.get(client, {}).items())]

    @app.get("/v1/bbo", **answers(list[Bbo], 404))
    async def bbo(client: Client, symbol: str | None = None) -> list[dict[str, Any]]:
        symbols = [symbol_param(symbol)] if symbol else md.symbols()
        return [row for s in symbols for row in md.bbo(s)]

    @app.get("/v1/nbbo/{symbol:path}", **answers(Nbbo, 404))
    async def nbbo(symbol: str, client: Client) -> dict[str, Any]:
        return md.nbbo(symbol_param(symbol))

    @app.get("/v1/book/{symbol:path}", **answers(Book, 404))
    async def book(symbol: str, client: Client, depth: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
        return md.unified(symbol_param(symbol), depth)

    @app.get("/v1/pools", **answers(list[Pool], 404))
    async def pools(client: Client, symbol: str | None = None) -> list[dict[str, Any]]:
        """The AMM pools the router quotes (each as of its block) and their chains' gas."""
        views = md.pools.pools(symbol_param(symbol)) if symbol else md.pools.all()
        return [pool_view(v, md) for v in sorted(views, key=lambda v: (v.state.symbol, v.venue))]

    @app.get("/v1/trades", **answers(list[Trade], 404))
    async def trades(client: Client, symbol: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     ) -> list[dict[str, Any]]:
        return list(md.trades.get(symbol_param(symbol), []))[-limit:]

    @app.get("/v1/edges", **answers(list[Edge]))
    async def edges(client: Client) -> list[dict[str, Any]]:
        rows = [{"venue": link.venue, "region": link.region, "remote": False, "address": link.address,
                 "connected": link.connected, "latency_ms": round(link.rtt_ms, 3), "reconnects": link.reconnects,
                 "exchange_id": link.info.exchange_id if link.info else None,
                 "last_error": link.last_error or None,
                 "symbols": [i.symbol for i in link.info.instruments] if link.info else []}
                for link in deps.edges.values()]
        for peer in (mesh.peers.values() if mesh else ()):
            for venue, v in sorted(peer.venues.items()):
                rtt = (peer.rtt_ms or 0.0) + v.edge_rtt_ms
                rows.append({"venue": venue, "region": peer.region, "remote": True, "address": peer.endpoint,
                             "connected": bool(mesh and mesh.alive(peer)) and v.connected,
                             "latency_ms": round(rtt, 3),
                             "reconnects": peer.reconnects, "exchange_id": v.info.exchange_id,
                             "last_error": peer.last_error or None,
                             "symbols": [i.symbol for i in v.info.instruments]})
        return rows

    @app.get("/v1/remote-orders", **answers(list[RemoteOrder]))
    async def remote_orders(caller: Caller) -> list[dict[str, Any]]:
        """What this region's edges did for other regions' orders (the home CC's own record): the
        recent ones, and every one not yet final; the caller's own (a client has the same id in
        every region), an admin's all."""
        home = deps.home
        if home is None:
            return []
        records = {cid: {"child_id": cid, "origin": o, "venue": v, "state": "PENDING_NEW",
                         "client": home.client_of.get(cid, "")} for cid, (o, v) in home.children.items()}
        records.update(home.view)
        return [records[cid] for cid in sorted(records)
                if caller.is_admin or records[cid]["client"] == caller.client_id]

    @app.get("/v1/peers", **answers(list[Peer]))
    async def peers(client: Client) -> list[dict[str, Any]]:
        return [{"region": p.region, "endpoint": p.endpoint, "connected": mesh.alive(p) if mesh else False,
                 "outbound": p.connected_out, "inbound": p.connected_in,
                 "rtt_ms": None if p.rtt_ms is None else round(p.rtt_ms, 3), "reconnects": p.reconnects,
                 "venues": sorted(p.venues), "items_in": p.items_in, "items_out": p.items_out,
                 "last_error": p.last_error or None}
                for p in (mesh.peers.values() if mesh else ())]

    @app.get("/v1/pairs", **answers(list[Pair]))
    async def pairs(client: Client) -> list[dict[str, Any]]:
        return [{"symbol": s, "venues": [{"venue": vb.venue, "region": vb.region, "remote": vb.remote,
                                          "tick": str(vb.prices.step), "lot": str(vb.qtys.step),
                                          "stale": md.is_stale(vb)} for vb in md.venue_books(s)]}
                for s in md.symbols()]

    @app.post("/v1/risk/kill-switch", **answers(KillSwitch, 403, 404, 413))
    async def kill_switch(req: KillSwitchRequest, caller: Caller) -> dict[str, Any]:
        """Your own kill switch (scope client), another client's or the region's (admin)."""
        return await controls.kill_switch(req, caller)

    @app.get("/v1/risk", **answers(Risk, 403, 404))
    async def risk(caller: Caller, client_id: str | None = None) -> dict[str, Any]:
        """Your limits and usage; an admin may name another client."""
        return controls.view(caller, client_id)

    @app.get("/healthz", **answers(Health, public=True))
    async def healthz() -> dict[str, Any]:
        links = deps.edges.values()
        return {"status": "ok", "region": region, "edges_connected": sum(link.connected for link in links),
                "edges": len(deps.edges)}

    if algos is not None:
        app.include_router(algo_routes(algos))
    app.include_router(client_routes(deps.clients))
    app.include_router(dashboard_routes())

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(reader: MetricsReader) -> PlainTextResponse:
        """Prometheus' text format; needs a monitor (or admin) client's key."""
        await metrics.refresh(deps)
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    without_unsent_422(app)
    return app
