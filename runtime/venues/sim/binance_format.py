"""The Binance spot wire shapes of the simulator's objects (what ccxt parses)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .instruments import Instrument
from .matching import Fees, LevelChange, PublicTrade
from .orders import Fill, Order, Side


def num(value: Decimal) -> str:
    """Exact, plain decimal string (no exponent), as Binance sends numbers."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def symbol_info(inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": inst.venue_id,
        "status": "TRADING",
        "baseAsset": inst.base,
        "baseAssetPrecision": 8,
        "quoteAsset": inst.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": num(inst.tick), "maxPrice": "10000000",
             "tickSize": num(inst.tick)},
            {"filterType": "LOT_SIZE", "minQty": num(inst.min_qty), "maxQty": "9000000",
             "stepSize": num(inst.lot)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": num(inst.min_qty), "maxQty": "9000000",
             "stepSize": num(inst.lot)},
            {"filterType": "NOTIONAL", "minNotional": num(inst.min_notional), "applyMinToMarket": True,
             "maxNotional": "900000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def order(o: Order, inst: Instrument, full: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": inst.venue_id,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": num(o.price) if o.price is not None else "0",
        "origQty": num(o.qty),
        "executedQty": num(o.filled),
        "cummulativeQuoteQty": num(o.cum_quote),
        "status": o.status.value,
        "timeInForce": o.tif.value if o.type.has_price else "GTC",
        "type": o.type.value,
        "side": o.side.value,
        "workingTime": o.time_ms,
        "selfTradePreventionMode": "NONE",
    }
    if full:
        body["transactTime"] = o.time_ms
        body["fills"] = [
            {"price": num(f.price), "qty": num(f.qty), "commission": num(f.fee),
             "commissionAsset": f.fee_asset, "tradeId": f.trade_id}
            for f in o.fills
        ]
    else:
        body.update(stopPrice="0", icebergQty="0", time=o.time_ms, updateTime=o.update_ms,
                    isWorking=o.status.is_open, origQuoteOrderQty="0")
    return body


def my_trade(f: Fill, inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": inst.venue_id,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": num(f.price),
        "qty": num(f.qty),
        "quoteQty": num(f.quote_qty),
        "commission": num(f.fee),
        "commissionAsset": f.fee_asset,
        "time": f.time_ms,
        "isBuyer": f.side is Side.BUY,
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }


def public_trade(t: PublicTrade, inst: Instrument) -> dict[str, Any]:
    return {"id": t.trade_id, "price": num(t.price), "qty": num(t.qty), "quoteQty": num(t.price * t.qty),
            "time": t.time_ms, "isBuyerMaker": t.buyer_is_maker, "isBestMatch": True}


def trade_event(t: PublicTrade, inst: Instrument) -> dict[str, Any]:
    return {"e": "trade", "E": t.time_ms, "s": inst.venue_id, "t": t.trade_id, "p": num(t.price),
            "q": num(t.qty), "T": t.time_ms, "m": t.buyer_is_maker, "M": True}


def depth_event(inst: Instrument, changes: list[LevelChange], time_ms: int) -> dict[str, Any]:
    """One diff-depth frame: the last quantity of every level changed in the window."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for c in changes:
        (bids if c.side is Side.BUY else asks)[c.price] = c.qty
    return {
        "e": "depthUpdate", "E": time_ms, "s": inst.venue_id,
        "U": changes[0].update_id, "u": changes[-1].update_id,
        "b": [[num(p), num(q)] for p, q in bids.items()],
        "a": [[num(p), num(q)] for p, q in asks.items()],
    }


def commission_rates(fees: Fees) -> dict[str, str]:
    return {"maker": num(fees.maker), "taker": num(fees.taker), "buyer": "0", "seller": "0"}
