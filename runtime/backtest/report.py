"""What a backtest did, as plain data (the CLI prints it as tables or JSON): fills, inventory,
PnL and the TCA of the algo's orders.

PnL in the quote currency, on an average cost: `realised` on the quantity closed, `unrealised`
the open inventory marked to the recording's last mid, both before fees; `total` = realised +
unrealised - fees, which equals cash + inventory x last mid. The order figures are the CC's TCA
(`runtime/cc/tca/figures.py`): arrival slippage and implementation shortfall against the
recorded mid when the algo decided, the effective spread of each side's fills against the
recorded mid when they filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from seqmesh.runtime.cc.domain import Fill as TcaFill
from seqmesh.runtime.cc.domain import Side as TcaSide
from seqmesh.runtime.cc.tca.figures import arrival_slippage, effective_spread, implementation_shortfall
from seqmesh.runtime.venues.sim.orders import Side

from .inventory import AverageCost
from .market import AlgoFill
from .replay import AlgoOrder, Result

ZERO = Decimal(0)
PRICE_Q = Decimal("0.00000001")


def _q(x: Decimal | None) -> str | None:
    """To 8 decimals, without trailing zeros or an exponent (65000, not 6.5E+4)."""
    if x is None:
        return None
    x = x.quantize(PRICE_Q)
    return f"{x.normalize():f}" if x else "0"


def fee_in_quote(f: AlgoFill, quote: str) -> Decimal:
    return f.fill.fee if f.fill.fee_asset == quote else f.fill.fee * f.fill.price


def _order_row(o: AlgoOrder, quote: str, mark: Decimal | None) -> dict[str, Any]:
    d = 1 if o.side is Side.BUY else -1
    filled = sum((f.fill.qty for f in o.fills), ZERO)
    notional = sum((f.fill.qty * f.fill.price for f in o.fills), ZERO)
    fees = sum((fee_in_quote(f, quote) for f in o.fills), ZERO)
    avg = notional / filled if filled else None
    m0 = o.decided_mid
    shortfall = implementation_shortfall(d, o.qty, filled, notional, fees, m0, mark, "last_mid") if filled else None
    return {"tag": o.tag, "side": o.side.value.lower(), "type": o.type, "price": _q(o.price), "qty": _q(o.qty),
            "decided_ns": o.decided_ns, "arrived_ns": o.arrived_ns or None, "state": o.state,
            "reject": o.reject or None, "filled": _q(filled), "avg_price": _q(avg), "fees": _q(fees),
            "arrival_mid": _q(m0), "arrival_slippage_bps": arrival_slippage(d, avg, m0),
            "shortfall_bps": shortfall["total_bps"] if shortfall else None}


def _spread(side: Side, fills: Sequence[tuple[AlgoFill, AlgoOrder, Decimal | None]], symbol: str,
            quote: str) -> dict[str, Any]:
    mine = [(f, mid) for f, _, mid in fills if f.fill.side is side]
    tca = [TcaFill(str(f.fill.trade_id), str(f.order.order_id), "", "backtest", symbol,
                   TcaSide.BUY if side is Side.BUY else TcaSide.SELL, f.fill.price, f.fill.qty,
                   fee_in_quote(f, quote), quote, f.fill.is_maker, f.fill.time_ms * 1_000_000, 0) for f, _ in mine]
    return effective_spread(1 if side is Side.BUY else -1, tca, [mid for _, mid in mine])


def build(r: Result, recording: str) -> dict[str, Any]:
    quote = r.symbol.split("/")[1]
    book = AverageCost()
    cash = fees = maker = ZERO
    bought = sold = ZERO
    fills = []
    for f, placed, mid in r.fills:
        sign = 1 if f.fill.side is Side.BUY else -1
        fee = fee_in_quote(f, quote)
        book.add(sign, f.fill.price, f.fill.qty)
        cash -= sign * f.fill.price * f.fill.qty + fee
        fees += fee
        maker += f.fill.qty if f.fill.is_maker else ZERO
        bought += f.fill.qty if sign > 0 else ZERO
        sold += f.fill.qty if sign < 0 else ZERO
        fills.append({"ts_ms": f.fill.time_ms, "tag": placed.tag, "side": f.fill.side.value.lower(),
                      "price": _q(f.fill.price), "qty": _q(f.fill.qty), "fee": _q(fee),
                      "liquidity": "maker" if f.fill.is_maker else "taker", "mid": _q(mid),
                      "position": _q(book.position)})
    mark = r.last_mid
    unrealised = book.unrealised(mark)
    total = book.realised + unrealised - fees
    info, s = r.header.info, r.settings
    stats = r.stats
    return {
        "recording": {"file": recording, "venue": info.venue, "symbol": r.symbol, "start_ns": r.start_ns,
                      "end_ns": r.end_ns, "items": r.items, "book_updates": r.book_updates, "trades": r.trades,
                      "truncated": r.truncated or None},
        "settings": {"seed": s.seed, "latency_ms": s.latency_ns / 1e6, "jitter_ms": s.jitter_ns / 1e6,
                     "maker_fee": str(s.fees.maker) if s.fees else info.maker_fee,
                     "taker_fee": str(s.fees.taker) if s.fees else info.taker_fee,
                     "params": dict(sorted(s.params.items()))},
        "algo": {"calls": stats.calls, "traps": stats.traps, "stopped": r.stopped, "orders": len(r.orders),
                 "cancels": r.cancels, "rejected": sum(1 for o in r.orders if o.reject), "denied": r.denied},
        "fills": {"count": len(r.fills), "bought": _q(bought), "sold": _q(sold), "maker_qty": _q(maker),
                  "fees": _q(fees)},
        "inventory": _q(book.position),
        "pnl": {"currency": quote, "realised": _q(book.realised), "unrealised": _q(unrealised), "fees": _q(fees),
                "total": _q(total), "cash": _q(cash), "last_mid": _q(mark), "avg_cost": _q(book.cost)},
        "tca": {"effective_spread_buys": _spread(Side.BUY, r.fills, r.symbol, quote),
                "effective_spread_sells": _spread(Side.SELL, r.fills, r.symbol, quote)},
        "orders": [_order_row(o, quote, mark) for o in r.orders],
        "fill_list": fills,
        "logs": r.logs[-20:],
    }
