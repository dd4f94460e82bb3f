"""The venue's REST side through ccxt, with exact numbers and the edge's rate limit.

ccxt's unified structures carry floats; every number read here goes through `exact()`
(shortest repr, then Decimal), which restores the venue's decimal string for any price or
quantity with up to 15 significant digits, and is then checked against the instrument grid.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt

from .ratelimit import TokenBucket

log = logging.getLogger(__name__)


def exact(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


@dataclass(frozen=True)
class InstrumentSpec:
    symbol: str
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    min_notional: Decimal

    def check(self, qty: Decimal, price: Decimal | None) -> str | None:
        """Why an order would be refused by the venue's filters, or None."""
        if qty <= 0:
            return "quantity must be positive"
        if qty % self.lot:
            return f"quantity {qty} is not a multiple of the lot size {self.lot}"
        if qty < self.min_qty:
            return f"quantity {qty} is below the minimum {self.min_qty}"
        if price is not None:
            if price <= 0:
                return "price must be positive"
            if price % self.tick:
                return f"price {price} is not a multiple of the tick size {self.tick}"
            if price * qty < self.min_notional:
                return f"notional {price * qty} is below the minimum {self.min_notional}"
        return None


@dataclass(frozen=True)
class VenueTrade:
    trade_id: str
    venue_order_id: str
    symbol: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    ts_ms: int


@dataclass(frozen=True)
class VenueOrder:
    venue_order_id: str
    client_order_id: str  # as the venue holds it (see `venue_client_id`)
    symbol: str
    status: str  # ccxt unified: open, closed, canceled, expired, rejected; "" when the answer does not say
    filled: Decimal
    trades: tuple[VenueTrade, ...]
    reason: str = ""  # why it was rejected, where the venue says (a swap's revert reason)
    qty: Decimal | None = None  # its total quantity and limit, where the answer says (after an amend)
    price: Decimal | None = None


#: OKX's cancelSource for a post-only order it ended because it would have taken liquidity
POST_ONLY_WOULD_TAKE = "31"


class VenueRateLimited(Exception):
    """The venue refused a new order for its rate limit, again after the edge's retries: it did
    not take the order (a rate-limit refusal comes before the venue looks at the request)."""


# Outcomes a caller must tell apart.
Refused = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadSymbol, ccxt.BadRequest, ccxt.PermissionDenied,
           ccxt.AuthenticationError, VenueRateLimited)
NotFound = ccxt.OrderNotFound
Unreachable = (ccxt.NetworkError,)  # timeouts, disconnections, 5xx: the outcome is unknown
#: Pauses before asking again after the venue refused a request for its rate limit (it did not
#: carry it out, so asking again is safe); after the last one the refusal stands.
RATE_LIMIT_PAUSES_S = (0.25, 0.5, 1.0)
#: Client order ids an exchange accepts, where narrower than the edge's own (1-36 of [.A-Za-z0-9_-]).
CLIENT_ID_RULES: dict[str, re.Pattern[str]] = {"okx": re.compile(r"^[A-Za-z0-9]{1,32}$")}


def venue_client_id(exchange_id: str, client_order_id: str) -> str:
    """Our client order id in the alphabet the venue accepts: unchanged where it fits, else its
    letters and digits (at most 20) and 12 hex digits of its SHA-256. Always the same for the same
    order, which is what finding it at the venue again after a crash needs."""
    rule = CLIENT_ID_RULES.get(exchange_id)
    if rule is None or rule.match(client_order_id):
        return client_order_id
    kept = re.sub(r"[^A-Za-z0-9]", "", client_order_id)[:20]
    return kept + hashlib.sha256(client_order_id.encode()).hexdigest()[:12]


class VenueGateway:
    """Any ccxt exchange through its unified calls; the idempotency field is ccxt's unified
    `clientOrderId` parameter, which each exchange class sends under its own name (Binance's
    newClientOrderId/origClientOrderId, OKX's clOrdId)."""

    def __init__(self, exchange: Any, limiter: TokenBucket) -> None:
        self.exchange = exchange
        self.limiter = limiter
        self.maker_fee = self.taker_fee = Decimal(0)
        self.symbols: list[str] = []

    async def close(self) -> None:
        await self.exchange.close()

    async def _call(self, method: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """One venue request within the edge's rate limit; asked again while the venue refuses it
        for its own rate limit (ccxt's RateLimitExceeded), which stands after the last pause."""
        for pause in (*RATE_LIMIT_PAUSES_S, None):
            await self.limiter.acquire()
            try:
                return await method(*args)
            except ccxt.RateLimitExceeded as exc:
                if pause is None:
                    raise
                log.warning("venue rate limit (%s); asking again in %.2fs", exc, pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    def client_id(self, client_order_id: str) -> str:
        return venue_client_id(self.exchange.id, client_order_id)

    async def instruments(self, symbols: list[str] | None) -> dict[str, InstrumentSpec]:
        markets = await self._call(self.exchange.load_markets, True)
        wanted = symbols or sorted(s for s, m in markets.items() if m.get("spot"))
        missing = [s for s in wanted if s not in markets]
        if missing:
            raise ValueError(f"venue does not list {missing}")
        out = {}
        for symbol in wanted:
            m = markets[symbol]
            lot = exact(m["precision"]["amount"])
            out[symbol] = InstrumentSpec(
                symbol, exact(m["precision"]["price"]), lot,
                exact(m["limits"]["amount"].get("min") or lot), exact(m["limits"]["cost"].get("min") or 0),
            )
        self.symbols = wanted
        return out

    async def load_fees(self) -> tuple[Decimal, Decimal]:
        """The account's maker/taker rates: the venue's answer for our first market where it has
        one (ccxt's fetch_trading_fee), else ccxt's published defaults."""
        fees = self.exchange.fees.get("trading", {})
        self.maker_fee, self.taker_fee = exact(fees.get("maker", 0)), exact(fees.get("taker", 0))
        if self.exchange.apiKey and self.exchange.has.get("fetchTradingFee") and self.symbols:
            rates = await self._call(self.exchange.fetch_trading_fee, self.symbols[0])
            self.maker_fee, self.taker_fee = exact(rates["maker"]), exact(rates["taker"])
        return self.maker_fee, self.taker_fee

    def _trade(self, t: dict[str, Any], symbol: str, order_id: str = "") -> VenueTrade:
        fee = t.get("fee") or {}
        return VenueTrade(
            str(t["id"]), str(t.get("order") or order_id), symbol, exact(t["price"]), exact(t["amount"]),
            exact(fee.get("cost")), str(fee.get("currency") or ""), t.get("takerOrMaker") == "maker",
            int(t.get("timestamp") or 0),
        )

    def _order(self, o: dict[str, Any], symbol: str, client_order_id: str) -> VenueOrder:
        vid = str(o["id"])
        trades = tuple(self._trade(t, symbol, vid) for t in o.get("trades") or [] if t.get("id") is not None)
        status = str(o.get("status") or "")  # "": the answer does not say (OKX's to a new order)
        if status == "canceled" and (o.get("type") == "market" or o.get("timeInForce") in ("IOC", "FOK")
                                     or (o.get("info") or {}).get("cancelSource") == POST_ONLY_WOULD_TAKE):
            # Nobody cancels an immediate order: the venue ended its unfilled remainder (OKX says
            # "canceled" where Binance says "expired"); OKX ends a post-only order that would take so too.
            status = "expired"
        return VenueOrder(vid, str(o.get("clientOrderId") or client_order_id), symbol, status, exact(o.get("filled")),
                          trades, qty=None if o.get("amount") is None else exact(o["amount"]),
                          price=None if o.get("price") is None else exact(o["price"]))

    async def create(self, symbol: str, side: str, type: str, qty: Decimal, price: Decimal | None,
                     tif: str, client_order_id: str) -> VenueOrder:
        params: dict[str, Any] = {"clientOrderId": self.client_id(client_order_id)}
        if type == "limit" and tif == "PO":
            params["postOnly"] = True  # ccxt's unified flag: each exchange's own post-only kind
        elif type == "limit":
            params["timeInForce"] = tif
        o = await self._new_order(self.exchange.create_order, symbol, type, side, str(qty),
                                  None if price is None else str(price), params)
        return self._order(o, symbol, client_order_id)

    async def _new_order(self, method: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Send a new order; still refused for the venue's rate limit after the pauses, it is
        refused for good (VenueRateLimited): the venue never took it."""
        try:
            return await self._call(method, *args)
        except ccxt.RateLimitExceeded as exc:
            raise VenueRateLimited(f"rate limit, {len(RATE_LIMIT_PAUSES_S) + 1} attempts: {exc}") from exc

    async def _by_ref(self, method: Callable[..., Awaitable[Any]], symbol: str, venue_order_id: str,
                      client_order_id: str) -> VenueOrder:
        """An order-addressed call, by the venue's id when known, else by our client order id."""
        if venue_order_id:
            o = await self._call(method, venue_order_id, symbol)
        else:
            o = await self._call(method, None, symbol, {"clientOrderId": self.client_id(client_order_id)})
        return self._order(o, symbol, client_order_id)

    def cancel_refusal(self, client_order_id: str) -> str | None:
        """Why the order cannot be cancelled at all, without asking (a broadcast swap); None: ask the venue."""
        return None

    def amend_refusal(self) -> str | None:
        """Why this venue's orders cannot be amended in place, without asking; None: ask the venue."""
        if not self.exchange.has.get("editOrder"):
            return f"{self.exchange.id} cannot amend an order: cancel it and place a new one"
        return None

    async def amend(self, symbol: str, venue_order_id: str, client_order_id: str, side: str, qty: Decimal,
                    price: Decimal) -> VenueOrder:
        """The venue's amend in place (ccxt's `edit_order`: OKX's amend-order), then what became of
        the order (the answer names it only)."""
        params = {} if venue_order_id else {"clientOrderId": self.client_id(client_order_id)}
        o = await self._call(self.exchange.edit_order, venue_order_id or None, symbol, "limit", side, str(qty),
                             str(price), params)
        return await self.fetch(symbol, str(o.get("id") or venue_order_id), client_order_id)

    async def cancel(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        vo = await self._by_ref(self.exchange.cancel_order, symbol, venue_order_id, client_order_id)
        if not vo.status:  # the answer names the order only (OKX's): ask for what became of it
            vo = await self.fetch(symbol, vo.venue_order_id, client_order_id)
        return vo

    async def fetch(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        return await self._by_ref(self.exchange.fetch_order, symbol, venue_order_id, client_order_id)

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        return [self._order(o, symbol, "") for o in await self._call(self.exchange.fetch_open_orders, symbol)]

    async def trades(self, symbol: str, since_ms: int | None, venue_order_id: str | None = None) -> list[VenueTrade]:
        """Our trades since `since_ms` (of one order when given), oldest first. A venue that pages
        newest first (OKX) answers a full page with only the newest: while a page is full, the
        next asks for those up to its oldest millisecond (inclusive: the trades of that
        millisecond not yet seen come too), until a page brings nothing new or reaches `since_ms`."""
        page = self.exchange.features.get("spot", {}).get("fetchMyTrades", {}).get("limit")
        by_order = bool(venue_order_id) and self.exchange.has.get("fetchOrderTrades")
        seen: dict[str, VenueTrade] = {}
        params: dict[str, Any] = {}
        while True:
            if by_order:
                rows = await self._call(self.exchange.fetch_order_trades, venue_order_id, symbol, since_ms, page,
                                        params)
            else:
                rows = await self._call(self.exchange.fetch_my_trades, symbol, since_ms, page, params)
            new = [t for t in rows if str(t["id"]) not in seen]
            seen.update((str(t["id"]), self._trade(t, symbol)) for t in new)
            oldest = min((int(t.get("timestamp") or 0) for t in rows), default=0)
            if not new or page is None or len(rows) < page or (since_ms is not None and oldest <= since_ms):
                return sorted((t for t in seen.values() if not venue_order_id or t.venue_order_id == venue_order_id),
                              key=lambda t: t.ts_ms)
            params = {"until": oldest}

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        bal = await self._call(self.exchange.fetch_balance)
        return {a: (exact(v.get("free")), exact(v.get("used"))) for a, v in bal.items()
                if isinstance(v, dict) and a not in ("info", "free", "used", "total", "debt")}


class BinanceGateway(VenueGateway):
    """The Binance spot dialect (Binance itself and the simulator): a new order goes through
    ccxt's method for the endpoint (`privatePostOrder`: the same signing, transport and error
    mapping as the unified call) and its answer is read from the venue's own decimal strings.

    ccxt's unified `create_order` spends ~0.2 ms of CPU per order on argument handling and on
    parsing the answer into floats that `exact()` then turns back into decimals (profiled:
    0.53 vs 0.31 ms per order in an idle process); it is the edge's hot path, so it is worth
    the dialect's few fields. Everything else stays on the unified calls."""

    def amend_refusal(self) -> str | None:
        # ccxt's binance edit_order is `order/cancelReplace`: a new order, its own id, last in the
        # queue, and the old one gone even if the new one is refused. Not an amend: refused.
        return ("Binance spot cannot amend an order in place (cancel-replace makes a new order and loses its "
                "place): cancel it and place a new one")

    async def load_fees(self) -> tuple[Decimal, Decimal]:
        """The account's own rates, as the venue's decimal strings (its account endpoint)."""
        fees = self.exchange.fees.get("trading", {})
        self.maker_fee, self.taker_fee = exact(fees.get("maker", 0)), exact(fees.get("taker", 0))
        if self.exchange.apiKey:
            rates = (await self._call(self.exchange.privateGetAccount)).get("commissionRates") or {}
            if "maker" in rates and "taker" in rates:
                self.maker_fee, self.taker_fee = Decimal(rates["maker"]), Decimal(rates["taker"])
        return self.maker_fee, self.taker_fee

    async def create(self, symbol: str, side: str, type: str, qty: Decimal, price: Decimal | None,
                     tif: str, client_order_id: str) -> VenueOrder:
        request: dict[str, Any] = {"symbol": self.exchange.market(symbol)["id"], "side": side.upper(),
                                   "type": type.upper(), "quantity": str(qty), "newClientOrderId": client_order_id,
                                   "newOrderRespType": "FULL"}
        if type == "limit" and tif == "PO":  # post-only: Binance's own order type, no time in force
            request.update(type="LIMIT_MAKER", price=str(price))
        elif type == "limit":
            request.update(price=str(price), timeInForce=tif)
        raw = await self._new_order(self.exchange.privatePostOrder, request)
        vid, ts = str(raw["orderId"]), int(raw.get("transactTime") or 0)
        # Fills in the answer to a new order are its own immediate matches: taker fills.
        trades = tuple(VenueTrade(str(f["tradeId"]), vid, symbol, Decimal(f["price"]), Decimal(f["qty"]),
                                  Decimal(f["commission"]), str(f["commissionAsset"]), False, ts)
                       for f in raw.get("fills") or ())
        return VenueOrder(vid, str(raw.get("clientOrderId") or client_order_id), symbol,
                          str(self.exchange.parse_order_status(raw.get("status")) or "open"),
                          Decimal(raw.get("executedQty") or 0), trades)
