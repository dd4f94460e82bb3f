"""A client order id is the client's idempotency key within its region: resubmitting the same
order gets the order already accepted; reusing the id for a different order is a conflict,
refused with what differs (answering the old order would let the client believe its new one
was placed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..domain import OrderType, Parent, Side, TimeInForce
from ..errors import OrderError


def same_order(known: Parent, symbol: str, side: Side, qty: Decimal, type: OrderType, price: Decimal | None,
               params: dict[str, Any] | None = None, tif: TimeInForce = TimeInForce.GTC) -> Parent:
    """`known` if the request asks for the order it is; `CLIENT_ORDER_ID_CONFLICT` (409) otherwise.
    An execution algorithm's `params` are compared as given against those it was accepted with
    (its defaults filled in are not a difference)."""
    sent: dict[str, Any] = {"symbol": symbol, "side": side.value, "quantity": qty, "type": type.value,
                            "price": price, "time_in_force": tif.value}
    have: dict[str, Any] = {"symbol": known.symbol, "side": known.side.value, "quantity": known.qty,
                            "type": known.type.value, "price": known.price, "time_in_force": known.tif.value}
    accepted = known.decision.get("algo", {}).get("params", {})
    for key, value in (params or {}).items():
        sent[f"params.{key}"], have[f"params.{key}"] = value, accepted.get(key)
    differs = [k for k in sent if sent[k] != have[k] and str(sent[k]) != str(have[k])]
    if differs:
        listed = ", ".join(f"{k} {_text(have[k])} (now {_text(sent[k])})" for k in differs)
        raise OrderError("CLIENT_ORDER_ID_CONFLICT", f"client order id {known.client_order_id!r} is order "
                         f"{known.order_id}, which differs in {listed}; use a new client order id for a new "
                         "order", 409, order_id=known.order_id, fields=",".join(differs))
    return known


def _text(value: Any) -> str:
    return "none" if value is None else str(value)
