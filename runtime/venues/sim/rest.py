"""The REST side of the Binance spot dialect (`/api/v3/...`).

Every handler parses and validates its parameters before touching the engine; failures
answer 4xx with Binance's `{"code": -1xxx, "msg": ...}` so ccxt raises the matching
exception class. No bad request can reach a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from . import binance_format as fmt
from .auth import AuthError, verify
from .instruments import Instrument
from .matching import MatchingEngine
from .orders import OrderType, Rejected, RejectReason, Side, TimeInForce
from .rest_base import DialectRest, Handler, plain_decimal

log = logging.getLogger(__name__)
_CLIENT_ID = re.compile(r"^[.A-Za-z0-9_-]{1,36}$")


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


class Params:
    """Query string and form body merged, as Binance reads them."""

    def __init__(self, request: web.Request, body: str) -> None:
        self.raw_query = request.query_string
        self.body = body
        self.values: dict[str, str] = dict(request.query)
        if body:
            from urllib.parse import parse_qsl

            self.values.update(parse_qsl(body, keep_blank_values=True))

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise Rejected(RejectReason.MANDATORY_PARAM,
                           f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        text = self.required(name) if required else self.get(name)
        if text is None:
            return None
        value = plain_decimal(text)
        if value is None:
            raise Rejected(RejectReason.BAD_PARAMETER,
                           f"Illegal characters found in parameter '{name}'; it must be a plain decimal number.")
        return value

    def integer(self, name: str, default: int | None = None, low: int = 0, high: int = 2**63 - 1) -> int | None:
        text = self.get(name)
        if text is None:
            return default
        if not text.lstrip("-").isdigit():
            raise Rejected(RejectReason.BAD_PARAMETER, f"Illegal characters found in parameter '{name}'.")
        value = int(text)
        if not low <= value <= high:
            raise Rejected(RejectReason.BAD_PARAMETER, f"Parameter '{name}' is out of range [{low}, {high}].")
        return value

    def choice(self, name: str, enum: type[Any], code: RejectReason, default: Any = None) -> Any:
        text = self.get(name)
        if text is None:
            if default is None:
                self.required(name)
            return default
        try:
            return enum(text.upper())
        except ValueError:
            raise Rejected(code, f"Invalid {name}.") from None


class BinanceRest(DialectRest):
    def __init__(self, engine: MatchingEngine, api_keys: dict[str, str], latency_ms: float,
                 permissions: Callable[[str], tuple[str, ...]] = lambda _key: ("read", "trade")) -> None:
        super().__init__(engine, latency_ms)
        self.api_keys = api_keys
        self.permissions = permissions

    def routes(self) -> list[web.RouteDef]:
        p = "/api/v3"
        return [
            web.get(f"{p}/ping", self.ping),
            web.get(f"{p}/time", self.server_time),
            web.get(f"{p}/exchangeInfo", self.exchange_info),
            web.get(f"{p}/depth", self.depth),
            web.get(f"{p}/trades", self.trades),
            web.get(f"{p}/ticker/bookTicker", self.book_ticker),
            web.get(f"{p}/account", self.account),
            web.post(f"{p}/order", self.new_order),
            web.get(f"{p}/order", self.get_order),
            web.delete(f"{p}/order", self.cancel_order),
            web.get(f"{p}/openOrders", self.open_orders),
            web.delete(f"{p}/openOrders", self.cancel_all),
            web.get(f"{p}/allOrders", self.all_orders),
            web.get(f"{p}/myTrades", self.my_trades),
            web.get("/sapi/v1/account/apiRestrictions", self.api_restrictions),
        ]

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except AuthError as exc:
            return _error(401, exc.code, exc.msg)
        except Rejected as exc:
            return _error(400, exc.code, exc.msg)
        except web.HTTPNotFound:
            return _error(404, RejectReason.UNKNOWN_ROUTE, f"Unknown endpoint {request.method} {request.path}")
        except web.HTTPMethodNotAllowed:
            return _error(405, RejectReason.UNKNOWN_ROUTE, f"Method {request.method} not allowed on {request.path}")
        except web.HTTPException:
            raise
        except Exception:  # a bug, not a bad request: log it and keep serving
            log.exception("internal error on %s %s", request.method, request.path)
            return _error(500, RejectReason.UNKNOWN_ROUTE, "An unknown error occurred while processing the request.")

    # -- helpers ---------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> Params:
        body = await request.text() if request.body_exists else ""  # cached by the middleware
        return Params(request, body)

    async def _signed(self, request: web.Request) -> tuple[str, Params]:
        params = await self._params(request)
        total = "&".join(x for x in (params.raw_query, params.body) if x)
        account = verify(total, self.api_keys, request.headers.get("X-MBX-APIKEY"),
                         params.integer("timestamp"), params.integer("recvWindow", 5000, 0, 60_000) or 5000,
                         self.engine.clock_ms())
        if not self.engine.accounts.exists(account):
            self.engine.accounts.open(account)
        return account, params

    def _instrument(self, params: Params, required: bool = True) -> Instrument | None:
        venue_id = params.required("symbol") if required else params.get("symbol")
        if venue_id is None:
            return None
        inst = self.engine.by_venue_id.get(venue_id.upper())
        if inst is None:
            raise Rejected(RejectReason.BAD_SYMBOL, "Invalid symbol.")
        return inst

    def _order_ref(self, params: Params) -> tuple[int | None, str | None]:
        return params.integer("orderId"), params.get("origClientOrderId")

    # -- public ----------------------------------------------------------------------------

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def server_time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.engine.clock_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response({
            "timezone": "UTC",
            "serverTime": self.engine.clock_ms(),
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [],
            "symbols": [fmt.symbol_info(i) for i in self.engine.instruments.values()],
        })

    async def depth(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        inst = self._instrument(params)
        assert inst is not None
        limit = params.integer("limit", 100, 1, 5000)
        update_id, bids, asks = self.engine.depth(inst.symbol, limit)
        return web.json_response({
            "lastUpdateId": update_id,
            "bids": [[fmt.num(p), fmt.num(q)] for p, q in bids],
            "asks": [[fmt.num(p), fmt.num(q)] for p, q in asks],
        })

    async def trades(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        inst = self._instrument(params)
        assert inst is not None
        limit = params.integer("limit", 500, 1, 1000) or 500
        recent = list(self.recent_trades[inst.symbol])[-limit:]
        return web.json_response([fmt.public_trade(t, inst) for t in recent])

    async def book_ticker(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        inst = self._instrument(params)
        assert inst is not None
        _, bids, asks = self.engine.depth(inst.symbol, 1)
        bid = bids[0] if bids else (Decimal(0), Decimal(0))
        ask = asks[0] if asks else (Decimal(0), Decimal(0))
        return web.json_response({"symbol": inst.venue_id, "bidPrice": fmt.num(bid[0]), "bidQty": fmt.num(bid[1]),
                                  "askPrice": fmt.num(ask[0]), "askQty": fmt.num(ask[1])})

    # -- signed ----------------------------------------------------------------------------

    async def account(self, request: web.Request) -> web.Response:
        account, _ = await self._signed(request)
        fees = self.engine.fees
        return web.json_response({
            "makerCommission": int(fees.maker * 10_000), "takerCommission": int(fees.taker * 10_000),
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": fmt.commission_rates(fees),
            "canTrade": True, "canWithdraw": "withdraw" in self.permissions(account), "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": self.engine.clock_ms(), "accountType": "SPOT",
            "balances": [{"asset": a, "free": fmt.num(f), "locked": fmt.num(lk)}
                         for a, (f, lk) in self.engine.accounts.balances(account).items()],
            "permissions": ["SPOT"], "uid": abs(hash(account)) % 10**9,
        })

    async def api_restrictions(self, request: web.Request) -> web.Response:
        """What the calling API key may do (Binance's wallet endpoint)."""
        account, _ = await self._signed(request)
        perms = self.permissions(account)
        return web.json_response({
            "ipRestrict": False, "createTime": 0, "enableReading": "read" in perms,
            "enableSpotAndMarginTrading": "trade" in perms, "enableWithdrawals": "withdraw" in perms,
            "enableInternalTransfer": False, "enableMargin": False, "enableFutures": False,
            "permitsUniversalTransfer": False, "enableVanillaOptions": False,
            "enablePortfolioMarginTrading": False})

    async def new_order(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params)
        assert inst is not None
        side = params.choice("side", Side, RejectReason.BAD_PARAMETER)
        otype = params.choice("type", OrderType, RejectReason.BAD_ORDER_TYPE)
        if params.get("quoteOrderQty") is not None:
            raise Rejected(RejectReason.BAD_PARAMETER, "quoteOrderQty is not supported by this venue; send quantity.")
        qty = params.decimal("quantity", required=True)
        assert qty is not None
        price = params.decimal("price")
        if otype is OrderType.LIMIT:
            tif = params.choice("timeInForce", TimeInForce, RejectReason.BAD_TIME_IN_FORCE)
        elif otype is OrderType.LIMIT_MAKER:  # rests or is refused: no time in force to choose
            if params.get("timeInForce") is not None:
                raise Rejected(RejectReason.PARAM_NOT_REQUIRED, "Parameter 'timeInForce' sent when not required.")
            tif = TimeInForce.GTC
        else:
            if price is not None:
                raise Rejected(RejectReason.PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
            tif = TimeInForce.IOC
        cid = params.get("newClientOrderId")
        if cid is not None and not _CLIENT_ID.match(cid):
            raise Rejected(RejectReason.BAD_PARAMETER, "Illegal characters found in parameter 'newClientOrderId'.")
        order = self.engine.submit(account, inst.symbol, side, otype, qty, price, tif, cid)
        resp_type = (params.get("newOrderRespType") or "FULL").upper()
        return web.json_response(fmt.order(order, inst, full=resp_type in ("FULL", "RESULT")))

    async def get_order(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params)
        assert inst is not None
        oid, cid = self._order_ref(params)
        if oid is None and cid is None:
            raise Rejected(RejectReason.MANDATORY_PARAM,
                           "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self.engine.find_order(account, inst.symbol, oid, cid)
        return web.json_response(fmt.order(order, inst))

    async def cancel_order(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params)
        assert inst is not None
        oid, cid = self._order_ref(params)
        order = self.engine.cancel(account, inst.symbol, oid, cid)
        body = fmt.order(order, inst)
        body["origClientOrderId"] = order.client_order_id
        return web.json_response(body)

    async def open_orders(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params, required=False)
        orders = self.engine.open_orders(account, inst.symbol if inst else None)
        return web.json_response([fmt.order(o, self.engine.instruments[o.symbol]) for o in orders])

    async def cancel_all(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params)
        assert inst is not None
        cancelled = [self.engine.cancel(account, inst.symbol, o.order_id)
                     for o in self.engine.open_orders(account, inst.symbol)]
        return web.json_response([fmt.order(o, inst) for o in cancelled])

    async def all_orders(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params)
        assert inst is not None
        orders = self.engine.all_orders(account, inst.symbol)
        from_id = params.integer("orderId")
        if from_id is not None:
            orders = [o for o in orders if o.order_id >= from_id]
        limit = params.integer("limit", 500, 1, 1000) or 500
        return web.json_response([fmt.order(o, inst) for o in orders[:limit]])

    async def my_trades(self, request: web.Request) -> web.Response:
        account, params = await self._signed(request)
        inst = self._instrument(params)
        assert inst is not None
        fills = self.engine.fills(account, inst.symbol)
        from_id, start, end = params.integer("fromId"), params.integer("startTime"), params.integer("endTime")
        order_id = params.integer("orderId")
        if from_id is not None:
            fills = [f for f in fills if f.trade_id >= from_id]
        if start is not None:
            fills = [f for f in fills if f.time_ms >= start]
        if end is not None:
            fills = [f for f in fills if f.time_ms <= end]
        if order_id is not None:
            fills = [f for f in fills if f.order_id == order_id]
        limit = params.integer("limit", 500, 1, 1000) or 500
        return web.json_response([fmt.my_trade(f, inst) for f in fills[:limit]])
