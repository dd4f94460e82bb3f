"""The OKX v5 wire shapes of the simulator's objects (what ccxt's okx parses), and OKX's errors.

OKX answers every REST call with `{"code": "0", "msg": "", "data": [...]}`; numbers and
times are strings; instrument ids are `BTC-USDT`; fees are negative when charged. A refused
order comes back inside `data` with its own `sCode`/`sMsg` under a top-level code "1".
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .binance_format import num
from .instruments import Instrument
from .matching import Fees, PublicTrade
from .orders import Cause, Fill, Order, OrderType, Rejected, RejectReason, Side, Status, TimeInForce

#: Levels of each side that OKX's book checksum covers.
CHECKSUM_LEVELS = 25
#: OKX's `books` channel and `market/books` serve at most this many levels per side.
BOOK_DEPTH = 400

Level = tuple[Decimal, Decimal, int]  # price, size, orders resting there


class OkxError(Exception):
    """A refusal in OKX's words: its code and message, the HTTP status it comes with, and for an
    order refused by the matching engine the order's own entry (`sCode`/`sMsg`) in `data`."""

    def __init__(self, code: str, msg: str, status: int = 200, data: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status, self.data = code, msg, status, data or []

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "data": self.data}


def ok(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def inst_id(inst: Instrument) -> str:
    return f"{inst.base}-{inst.quote}"


# OKX's codes for the engine's refusals: by cause where one Binance code covers several.
_BY_CAUSE: dict[Cause, tuple[str, str]] = {
    Cause.INSUFFICIENT_BALANCE: ("51008", "Order failed. Insufficient balance."),
    Cause.DUPLICATE_CLIENT_ID: ("51016", "Duplicated clOrdId."),
    Cause.NO_ACCOUNT: ("51008", "Order failed. Insufficient balance."),
    Cause.LOT: ("51121", "Order quantity must be a multiple of the lot size."),
    Cause.MIN_QTY: ("51020", "Your order should meet or exceed the minimum order amount."),
    Cause.MIN_NOTIONAL: ("51020", "Your order should meet or exceed the minimum order amount."),
    Cause.TICK: ("51000", "Parameter px error"),
    Cause.WOULD_TAKE: ("51000", "Parameter newPx error: the post-only order would take liquidity"),
    Cause.NOT_OPEN: ("51503", "Order modification failed as the order has been filled, canceled or does not exist."),
}
CANCEL_FAILED = ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist.")
_BY_CODE: dict[RejectReason, tuple[str, str]] = {
    RejectReason.BAD_SYMBOL: ("51001", "Instrument ID does not exist."),
    RejectReason.UNKNOWN_ORDER: ("51603", "Order does not exist."),
    RejectReason.CANCEL_REJECTED: CANCEL_FAILED,
}


def order_refusal(exc: Rejected) -> tuple[str, str]:
    """OKX's (code, message) for a refusal of the matching engine."""
    if exc.cause is not None:
        return _BY_CAUSE[exc.cause]
    return _BY_CODE.get(exc.code, ("51000", f"Parameter error: {exc.msg}"))


def instrument(inst: Instrument) -> dict[str, Any]:
    return {
        "instType": "SPOT", "instId": inst_id(inst), "instFamily": "", "uly": "", "category": "1",
        "baseCcy": inst.base, "quoteCcy": inst.quote, "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "",
        "ctType": "", "optType": "", "stk": "", "alias": "", "listTime": "1548133413000", "expTime": "",
        "lever": "", "tickSz": num(inst.tick), "lotSz": num(inst.lot), "minSz": num(inst.min_qty),
        "maxLmtSz": "9999999999", "maxMktSz": "1000000", "maxLmtAmt": "20000000", "maxMktAmt": "1000000",
        "maxTwapSz": "9999999999", "maxIcebergSz": "9999999999", "maxTriggerSz": "9999999999",
        "maxStopSz": "1000000", "ruleType": "normal", "state": "live", "tradeQuoteCcyList": [inst.quote],
    }


def ord_type(o: Order) -> str:
    if o.type is OrderType.MARKET:
        return "market"
    if o.type is OrderType.LIMIT_MAKER:
        return "post_only"
    return {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}[o.tif]


def _state(o: Order) -> str:
    if o.status in (Status.CANCELED, Status.EXPIRED, Status.REJECTED):
        return "canceled"
    return {Status.NEW: "live", Status.PARTIALLY_FILLED: "partially_filled", Status.FILLED: "filled"}[o.status]


def _cancel_source(o: Order) -> tuple[str, str]:
    """OKX's code and words for who ended an order: the user ("1") or the system ("0")."""
    if o.status is Status.CANCELED:
        return "1", "Order canceled by user"
    if o.status is Status.EXPIRED and o.type is OrderType.LIMIT_MAKER:
        return "31", "The post-only order will take liquidity in taker orders"
    if o.status is Status.EXPIRED:
        kind = "FOK order was not fully filled" if o.tif is TimeInForce.FOK and o.type is OrderType.LIMIT else \
            "the unfilled remainder of an immediate order"
        return "0", f"Order canceled by system: {kind}"
    return "", ""


def order(o: Order, inst: Instrument) -> dict[str, Any]:
    last = o.fills[-1] if o.fills else None
    fee = sum((f.fee for f in o.fills), Decimal(0))
    fee_ccy = inst.base if o.side is Side.BUY else inst.quote
    source, reason = _cancel_source(o)
    return {
        "instType": "SPOT", "instId": inst_id(inst), "ordId": str(o.order_id), "clOrdId": o.client_order_id,
        "tag": "", "px": num(o.price) if o.price is not None else "", "pxUsd": "", "pxVol": "", "pxType": "",
        "sz": num(o.qty), "ordType": ord_type(o), "side": o.side.value.lower(), "posSide": "net", "tdMode": "cash",
        "tgtCcy": "base_ccy" if o.type is OrderType.MARKET else "", "ccy": "",
        "accFillSz": num(o.filled), "avgPx": num(o.cum_quote / o.filled) if o.filled else "",
        "fillPx": num(last.price) if last else "", "fillSz": num(last.qty) if last else "",
        "tradeId": str(last.trade_id) if last else "", "fillTime": str(last.time_ms) if last else "",
        "state": _state(o), "lever": "", "pnl": "0", "fee": num(-fee), "feeCcy": fee_ccy,
        "rebate": "0", "rebateCcy": inst.quote if o.side is Side.BUY else inst.base,
        "source": "", "category": "normal", "reduceOnly": "false", "isTpLimit": "false",
        "cancelSource": source, "cancelSourceReason": reason, "quickMgnType": "", "stpId": "", "stpMode": "",
        "attachAlgoClOrdId": "", "attachAlgoOrds": [], "linkedAlgoOrd": {"algoId": ""},
        "algoClOrdId": "", "algoId": "", "tpTriggerPx": "", "tpTriggerPxType": "", "tpOrdPx": "",
        "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "", "tradeQuoteCcy": inst.quote,
        "uTime": str(o.update_ms or o.time_ms), "cTime": str(o.time_ms),
    }


def placed(o: Order, now_ms: int) -> dict[str, Any]:
    """An order's entry in the answer to placing it: ids only, as OKX answers."""
    return {"clOrdId": o.client_order_id, "ordId": str(o.order_id), "tag": "", "ts": str(now_ms),
            "sCode": "0", "sMsg": "Order placed"}


def refused(client_order_id: str, code: str, msg: str, now_ms: int, order_id: str = "") -> dict[str, Any]:
    return {"clOrdId": client_order_id, "ordId": order_id, "tag": "", "ts": str(now_ms), "sCode": code, "sMsg": msg}


def bill_id(f: Fill) -> int:
    """A fill's id within its account: one trade has a maker and a taker side (a self-trade both)."""
    return f.trade_id * 2 + (1 if f.is_maker else 0)


def fill(f: Fill, inst: Instrument, client_order_id: str, fees: Fees) -> dict[str, Any]:
    rate = fees.maker if f.is_maker else fees.taker
    return {
        "instType": "SPOT", "instId": inst_id(inst), "tradeId": str(f.trade_id), "ordId": str(f.order_id),
        "clOrdId": client_order_id, "billId": str(bill_id(f)), "subType": "1" if f.side is Side.BUY else "2",
        "tag": "", "fillPx": num(f.price), "fillSz": num(f.qty), "fillIdxPx": "", "fillPnl": "0",
        "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "",
        "side": f.side.value.lower(), "posSide": "net", "execType": "M" if f.is_maker else "T",
        "feeCcy": f.fee_asset, "fee": num(-f.fee), "feeRate": num(-rate), "ts": str(f.time_ms),
        "fillTime": str(f.time_ms), "tradeQuoteCcy": inst.quote,
    }


def public_trade(t: PublicTrade, inst: Instrument) -> dict[str, Any]:
    """A public trade; `side` is the taker's."""
    return {"instId": inst_id(inst), "tradeId": str(t.trade_id), "px": num(t.price), "sz": num(t.qty),
            "side": "sell" if t.buyer_is_maker else "buy", "ts": str(t.time_ms), "count": "1", "source": "0"}


def levels(side: Sequence[Level]) -> list[list[str]]:
    """Book levels as OKX lists them: price, size, a deprecated "0", and the number of orders."""
    return [[num(p), num(q), "0", str(n)] for p, q, n in side]


def checksum(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> int:
    """OKX's book checksum: CRC32 of `bid:size:ask:size:...` over the best 25 levels of each side
    (interleaved while both sides have levels), as a signed 32-bit integer."""
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        for side in (bids, asks):
            if i < len(side):
                parts += (side[i][0], side[i][1])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def balance_detail(asset: str, free: Decimal, locked: Decimal, now_ms: int) -> dict[str, Any]:
    total = num(free + locked)
    return {"ccy": asset, "eq": total, "cashBal": total, "availBal": num(free), "frozenBal": num(locked),
            "ordFrozen": num(locked), "availEq": "", "disEq": total, "eqUsd": "", "upl": "0", "uTime": str(now_ms),
            "fixedBal": "0", "spotBal": total, "notionalLever": "", "stgyEq": "0", "isoEq": "0"}


def trade_fee(fees: Fees, now_ms: int) -> dict[str, Any]:
    return {"category": "1", "delivery": "", "exercise": "", "instType": "SPOT", "level": "Lv1",
            "maker": num(-fees.maker), "taker": num(-fees.taker), "makerU": "", "takerU": "", "makerUSDC": "",
            "takerUSDC": "", "ts": str(now_ms)}


def currency(asset: str) -> dict[str, Any]:
    """An asset as `asset/currencies` lists it; the simulator neither deposits nor withdraws."""
    return {"ccy": asset, "name": asset, "chain": f"{asset}-{asset}", "canDep": False, "canWd": False,
            "canInternal": False, "minWd": "0", "maxWd": "0", "wdTickSz": "8", "minFee": "0", "maxFee": "0",
            "mainNet": True, "logoLink": ""}
