"""The REST side of the OKX v5 dialect (`/api/v5/...`), over the same matching engine.

Private calls are signed as OKX signs them (okx_auth) and limited per API key and endpoint
(code 50011, HTTP 429). Parameters are validated before the engine is touched; refusals are
OKX's `{"code", "msg", "data"}` envelopes with OKX's codes, never a 500 for bad input. A
request for an order carries its fields in a JSON body (`trade/batch-orders` a list of them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from . import okx_format as fmt
from .config import VenueSettings
from .instruments import Instrument
from .matching import MatchingEngine
from .okx_auth import verify
from .okx_format import OkxError
from .orders import Cause, Fill, Order, OrderType, Rejected, Side, TimeInForce
from .ratelimit import EndpointLimiter
from .rest_base import DialectRest, Handler, plain_decimal

log = logging.getLogger(__name__)
#: OKX's clOrdId: case-sensitive letters and digits, up to 32.
CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
#: ordType -> (engine order type, time in force). OKX's optimal_limit_ioc and others are not simulated.
ORDER_KINDS: dict[str, tuple[OrderType, TimeInForce]] = {
    "market": (OrderType.MARKET, TimeInForce.IOC), "limit": (OrderType.LIMIT, TimeInForce.GTC),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC), "fok": (OrderType.LIMIT, TimeInForce.FOK),
    "post_only": (OrderType.LIMIT_MAKER, TimeInForce.GTC),
}
PAGE = 100  # OKX's largest page of orders or fills
MAX_BATCH = 20  # orders per trade/batch-orders request


def _param_error(name: str) -> OkxError:
    return OkxError("51000", f"Parameter {name} error")


def _missing(name: str) -> OkxError:
    return OkxError("50014", f"Parameter {name} can not be empty.")


class _Args:
    """One request's parameters (query string or one JSON object), read as OKX reads them."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise _param_error(name)
        return value

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise _missing(name)
        return value

    def decimal(self, name: str) -> Decimal:
        value = plain_decimal(self.required(name))
        if value is None:
            raise _param_error(name)
        return value

    def integer(self, name: str, default: int | None = None, high: int = 2**63 - 1) -> int | None:
        text = self.get(name)
        if text is None:
            return default
        if not text.isdigit() or not 0 <= int(text) <= high:
            raise _param_error(name)
        return int(text)


class OkxRest(DialectRest):
    def __init__(self, engine: MatchingEngine, settings: VenueSettings) -> None:
        super().__init__(engine, settings.extra_latency_ms)
        self.secrets = settings.api_keys
        self.passphrases = settings.passphrases
        self.permissions = settings.key_permissions
        self.limiter = EndpointLimiter(settings.rate_limit, settings.rate_limit_window_ms)
        self.by_inst_id = {fmt.inst_id(i): i for i in engine.instruments.values()}

    def routes(self) -> list[web.RouteDef]:
        p = "/api/v5"
        return [
            web.get(f"{p}/public/time", self.server_time),
            web.get(f"{p}/public/instruments", self.instruments),
            web.get(f"{p}/market/books", self.books),
            web.get(f"{p}/market/books-full", self.books),
            web.get(f"{p}/market/trades", self.trades),
            web.get(f"{p}/asset/currencies", self.currencies),
            web.get(f"{p}/account/balance", self.balance),
            web.get(f"{p}/account/trade-fee", self.trade_fee),
            web.get(f"{p}/account/config", self.account_config),
            web.post(f"{p}/trade/order", self.place_order),
            web.post(f"{p}/trade/batch-orders", self.place_batch),
            web.post(f"{p}/trade/cancel-order", self.cancel_order),
            web.post(f"{p}/trade/amend-order", self.amend_order),
            web.get(f"{p}/trade/order", self.get_order),
            web.get(f"{p}/trade/orders-pending", self.orders_pending),
            web.get(f"{p}/trade/fills", self.fills),
            web.get(f"{p}/trade/fills-history", self.fills),
        ]

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except OkxError as exc:
            return web.json_response(exc.body(), status=exc.status)
        except Rejected as exc:
            code, msg = fmt.order_refusal(exc)
            return web.json_response({"code": code, "msg": msg, "data": []})
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            return web.json_response({"code": "404", "msg": f"Not Found: {request.method} {request.path}",
                                      "data": []}, status=exc.status)
        except web.HTTPException:
            raise
        except Exception:  # a bug, not a bad request: log it and keep serving
            log.exception("internal error on %s %s", request.method, request.path)
            return web.json_response({"code": "50026", "msg": "System error. Try again later.", "data": []},
                                     status=500)

    # -- helpers ---------------------------------------------------------------------------

    async def _private(self, request: web.Request) -> tuple[str, Any]:
        """Authenticate and rate-limit a private call; its account and JSON body (None on GET)."""
        body = await request.text() if request.body_exists else ""
        now = self.engine.clock_ms()
        account = verify(request.headers, request.method, request.raw_path, body, self.secrets, self.passphrases, now)
        if not self.limiter.allow(account, f"{request.method} {request.path}", now):
            raise OkxError("50011", "Too Many Requests", status=429)
        if not self.engine.accounts.exists(account):
            self.engine.accounts.open(account)
        if request.method == "GET":
            return account, None
        try:
            return account, orjson.loads(body or "{}")
        except orjson.JSONDecodeError:
            raise OkxError("50002", "Json data format error", status=400) from None

    def _instrument(self, args: _Args, required: bool = True) -> Instrument | None:
        iid = args.required("instId") if required else args.get("instId")
        if iid is None:
            return None
        inst = self.by_inst_id.get(iid)
        if inst is None:
            raise OkxError("51001", "Instrument ID does not exist.")
        return inst

    @staticmethod
    def _object(body: Any) -> _Args:
        if not isinstance(body, dict):
            raise OkxError("50002", "Json data format error", status=400)
        return _Args(body)

    def _order(self, account: str, args: _Args) -> tuple[Order, Instrument]:
        inst = self._instrument(args)
        assert inst is not None
        oid = args.integer("ordId")
        cid = args.get("clOrdId")
        if oid is None and cid is None:
            raise OkxError("51407", "Either order ID or client order ID is required.")
        return self.engine.find_order(account, inst.symbol, oid, None if oid is not None else cid), inst

    @staticmethod
    def _newest_first(rows: list[Any], key: Callable[[Any], int], args: _Args) -> list[Any]:
        """OKX's pagination: newest first, `after` = older than, `before` = newer than, `limit` <= 100."""
        after, before = args.integer("after"), args.integer("before")
        rows = sorted(rows, key=key, reverse=True)
        if after is not None:
            rows = [r for r in rows if key(r) < after]
        if before is not None:
            rows = [r for r in rows if key(r) > before]
        limit = args.integer("limit", PAGE, PAGE) or PAGE
        return rows[:limit]

    # -- public ----------------------------------------------------------------------------

    async def server_time(self, request: web.Request) -> web.Response:
        return web.json_response(fmt.ok([{"ts": str(self.engine.clock_ms())}]))

    async def instruments(self, request: web.Request) -> web.Response:
        args = _Args(dict(request.query))
        kind = args.required("instType")
        if kind not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise _param_error("instType")
        insts = list(self.engine.instruments.values()) if kind == "SPOT" else []
        inst = self._instrument(args, required=False)
        if inst is not None:
            insts = [i for i in insts if i is inst]
        return web.json_response(fmt.ok([fmt.instrument(i) for i in insts]))

    async def books(self, request: web.Request) -> web.Response:
        args = _Args(dict(request.query))
        inst = self._instrument(args)
        assert inst is not None
        most = 5000 if request.path.endswith("books-full") else fmt.BOOK_DEPTH
        size = args.integer("sz", 1, most) or 1
        _, bids, asks = self.engine.counted_depth(inst.symbol, size)
        return web.json_response(fmt.ok([{"asks": fmt.levels(asks), "bids": fmt.levels(bids),
                                          "ts": str(self.engine.clock_ms())}]))

    async def trades(self, request: web.Request) -> web.Response:
        args = _Args(dict(request.query))
        inst = self._instrument(args)
        assert inst is not None
        limit = args.integer("limit", 100, 500) or 100
        recent = list(self.recent_trades[inst.symbol])[-limit:]
        return web.json_response(fmt.ok([fmt.public_trade(t, inst) for t in reversed(recent)]))

    # -- private ---------------------------------------------------------------------------

    async def currencies(self, request: web.Request) -> web.Response:
        await self._private(request)
        assets = sorted({a for i in self.engine.instruments.values() for a in (i.base, i.quote)})
        return web.json_response(fmt.ok([fmt.currency(a) for a in assets]))

    async def balance(self, request: web.Request) -> web.Response:
        account, _ = await self._private(request)
        wanted = {c for c in (request.query.get("ccy") or "").split(",") if c}
        now = self.engine.clock_ms()
        details = [fmt.balance_detail(a, free, locked, now)
                   for a, (free, locked) in self.engine.accounts.balances(account).items()
                   if not wanted or a in wanted]
        return web.json_response(fmt.ok([{"adjEq": "", "details": details, "imr": "", "isoEq": "0", "mgnRatio": "",
                                          "mmr": "", "notionalUsd": "", "ordFroz": "", "totalEq": "",
                                          "uTime": str(now)}]))

    async def trade_fee(self, request: web.Request) -> web.Response:
        await self._private(request)
        args = _Args(dict(request.query))
        if args.required("instType") != "SPOT":
            raise _param_error("instType")
        self._instrument(args, required=False)
        return web.json_response(fmt.ok([fmt.trade_fee(self.engine.fees, self.engine.clock_ms())]))

    async def account_config(self, request: web.Request) -> web.Response:
        """The key's account configuration; `perm` is what the API key may do, as OKX names it."""
        account, _ = await self._private(request)
        names = {"read": "read_only", "trade": "trade", "withdraw": "withdraw"}
        perm = ",".join(names[p] for p in self.permissions(account))
        return web.json_response(fmt.ok([{"uid": str(abs(hash(account)) % 10**9), "mainUid": "", "acctLv": "1",
                                          "posMode": "net_mode", "autoLoan": False, "level": "Lv1",
                                          "label": account, "perm": perm, "ip": "", "roleType": "0"}]))

    def _place(self, account: str, body: Any) -> dict[str, Any]:
        """Place one order; its entry in the answer, refused or not (the engine is unchanged if refused)."""
        now = self.engine.clock_ms()
        cid = body.get("clOrdId", "") if isinstance(body, dict) else ""
        cid = cid if isinstance(cid, str) else ""
        try:
            args = self._object(body)
            inst = self._instrument(args)
            assert inst is not None
            if args.required("tdMode") != "cash":
                raise OkxError("51000", "Parameter tdMode error: this venue trades spot in cash mode only")
            side = args.required("side")
            if side not in ("buy", "sell"):
                raise _param_error("side")
            kind = ORDER_KINDS.get(args.required("ordType"))
            if kind is None:
                raise OkxError("51000", "Parameter ordType error: this venue takes "
                                        "market, limit, post_only, ioc and fok")
            otype, tif = kind
            qty = args.decimal("sz")
            price = args.decimal("px") if otype.has_price else None
            if otype is OrderType.MARKET and side == "buy" and args.get("tgtCcy") != "base_ccy":
                # OKX reads a market buy's sz in the quote currency unless told otherwise; the
                # simulator takes base quantities only, so it refuses rather than misread one.
                raise OkxError("51000", "Parameter tgtCcy error: send base_ccy for a market buy")
            if cid and not CLIENT_ID.match(cid):
                raise _param_error("clOrdId")
            # OKX takes a post-only order that would match and cancels it at once (cancelSource 31)
            order = self.engine.submit(account, inst.symbol, Side(side.upper()), otype, qty, price, tif, cid or None,
                                       post_only_expires=True)
        except OkxError as exc:
            return fmt.refused(cid, exc.code, exc.msg, now)
        except Rejected as exc:
            return fmt.refused(cid, *fmt.order_refusal(exc), now)
        return fmt.placed(order, now)

    @staticmethod
    def _batch_answer(entries: list[dict[str, Any]]) -> web.Response:
        failed = sum(e["sCode"] != "0" for e in entries)
        code, msg = ("0", "") if not failed else ("1", "All operations failed") if failed == len(entries) else \
            ("2", "Batch operation partially succeeded")
        return web.json_response({"code": code, "msg": msg, "data": entries})

    async def place_order(self, request: web.Request) -> web.Response:
        account, body = await self._private(request)
        return self._batch_answer([self._place(account, body)])

    async def place_batch(self, request: web.Request) -> web.Response:
        account, body = await self._private(request)
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
            raise OkxError("50002", f"Json data format error: expected a list of 1 to {MAX_BATCH} orders", status=400)
        return self._batch_answer([self._place(account, b) for b in body])

    async def cancel_order(self, request: web.Request) -> web.Response:
        account, body = await self._private(request)
        args = self._object(body)
        now = self.engine.clock_ms()
        cid = args.get("clOrdId") or ""
        try:
            order, inst = self._order(account, args)
            self.engine.cancel(account, inst.symbol, order.order_id)
        except Rejected:  # unknown, or no longer open
            return self._batch_answer([fmt.refused(cid, *fmt.CANCEL_FAILED, now, args.get("ordId") or "")])
        return self._batch_answer([{"clOrdId": order.client_order_id, "ordId": str(order.order_id),
                                    "ts": str(now), "sCode": "0", "sMsg": ""}])

    async def amend_order(self, request: web.Request) -> web.Response:
        """OKX's amend: `newSz` (the new total size, filled part included) and/or `newPx` of a live
        order, by `ordId` or `clOrdId`; answered like a cancel (ids and `sCode`, echoing `reqId`)."""
        account, body = await self._private(request)
        args = self._object(body)
        now = self.engine.clock_ms()
        cid, req_id = args.get("clOrdId") or "", args.get("reqId") or ""
        try:
            if args.get("newSz") is None and args.get("newPx") is None:
                raise OkxError("51000", "Parameter newSz or newPx is required")
            qty = args.decimal("newSz") if args.get("newSz") is not None else None
            price = args.decimal("newPx") if args.get("newPx") is not None else None
            try:
                order, inst = self._order(account, args)
            except Rejected as exc:
                raise Rejected(exc.code, exc.msg, Cause.NOT_OPEN) from None
            self.engine.amend(account, inst.symbol, order.order_id, qty, price)
        except OkxError as exc:
            entry = fmt.refused(cid, exc.code, exc.msg, now, args.get("ordId") or "")
        except Rejected as exc:
            entry = fmt.refused(cid, *fmt.order_refusal(exc), now, args.get("ordId") or "")
        else:
            entry = {"clOrdId": order.client_order_id, "ordId": str(order.order_id), "ts": str(now), "sCode": "0",
                     "sMsg": ""}
        return self._batch_answer([{**entry, "reqId": req_id}])

    async def get_order(self, request: web.Request) -> web.Response:
        account, _ = await self._private(request)
        order, inst = self._order(account, _Args(dict(request.query)))
        return web.json_response(fmt.ok([fmt.order(order, inst)]))

    async def orders_pending(self, request: web.Request) -> web.Response:
        account, _ = await self._private(request)
        args = _Args(dict(request.query))
        inst = self._instrument(args, required=False)
        orders = self.engine.open_orders(account, inst.symbol if inst else None)
        kind = args.get("ordType")
        if kind is not None:
            orders = [o for o in orders if fmt.ord_type(o) == kind]
        orders = self._newest_first(orders, lambda o: o.order_id, args)
        return web.json_response(fmt.ok([fmt.order(o, self.engine.instruments[o.symbol]) for o in orders]))

    async def fills(self, request: web.Request) -> web.Response:
        account, _ = await self._private(request)
        args = _Args(dict(request.query))
        if request.path.endswith("history") and args.required("instType") != "SPOT":
            raise _param_error("instType")
        inst = self._instrument(args, required=False)
        insts = [inst] if inst else list(self.engine.instruments.values())
        rows: list[Fill] = [f for i in insts for f in self.engine.fills(account, i.symbol)]
        oid, begin, end = args.integer("ordId"), args.integer("begin"), args.integer("end")
        rows = [f for f in rows if (oid is None or f.order_id == oid) and (begin is None or f.time_ms >= begin)
                and (end is None or f.time_ms <= end)]
        rows = self._newest_first(rows, fmt.bill_id, args)
        fees = self.engine.fees
        return web.json_response(fmt.ok([fmt.fill(f, self.engine.instruments[f.symbol],
                                                  self.engine.orders[f.order_id].client_order_id, fees)
                                          for f in rows]))
