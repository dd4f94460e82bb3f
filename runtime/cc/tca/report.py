"""Transaction cost analysis of one parent order, from the ledger and its routing decision.

D = +1 buying, -1 selling. Arrival slippage (bps) = D x (average price - arrival mid) / mid.
Routed cost = notional + fees (buying; selling, proceeds = notional - fees). The comparison
is with the best single venue at decision time: what sweeping the whole order through that
one venue's book, with its taker fee, would have cost. Savings > 0 means routing did better.

That saving compares real fills with decision-time prices, so it also holds whatever the
market did between the decision and the fills. `execution` separates that part: the fills
against the route's own decision-time prices and fees (its latency penalty is a routing
weight, not a cost, and is left out). Shortfall > 0 means the fills came in worse.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .domain import Parent

ZERO = Decimal(0)
BPS = Decimal(10_000)
Q = Decimal("0.0001")


def report(p: Parent) -> dict[str, Any]:
    quote = p.symbol.split("/")[1]
    d = p.side.sign
    per_venue: dict[str, dict[str, Decimal]] = {}
    for f in p.fills:
        v = per_venue.setdefault(f.venue, {"qty": ZERO, "notional": ZERO, "fees": ZERO, "maker_qty": ZERO})
        v["qty"] += f.qty
        v["notional"] += f.price * f.qty
        v["fees"] += f.fee_in_quote(quote)
        if f.maker:
            v["maker_qty"] += f.qty
    filled = sum((v["qty"] for v in per_venue.values()), ZERO)
    notional = sum((v["notional"] for v in per_venue.values()), ZERO)
    fees = sum((v["fees"] for v in per_venue.values()), ZERO)
    avg = notional / filled if filled else None
    route = p.decision.get("route", {})
    mid = Decimal(route["arrival_mid"]) if route.get("arrival_mid") else None
    out: dict[str, Any] = {
        "order_id": p.order_id, "symbol": p.symbol, "side": p.side.value, "state": p.state.value,
        "quantity": str(p.qty), "filled": str(filled), "avg_price": None if avg is None else str(avg),
        "notional": str(notional), "fees": str(fees), "fee_currency": quote,
        "venues": {venue: {"qty": str(v["qty"]), "avg_price": str(v["notional"] / v["qty"]),
                           "notional": str(v["notional"]), "fees": str(v["fees"]), "maker_qty": str(v["maker_qty"])}
                   for venue, v in sorted(per_venue.items())},
        "arrival_mid": None if mid is None else str(mid),
    }
    if avg is not None and mid:
        out["arrival_slippage_bps"] = str((d * (avg - mid) / mid * BPS).quantize(Q))
    routed_cost = notional + d * fees  # buying: paid; selling: received, net of fees
    out["routed_cost"] = str(routed_cost)
    best = route.get("best_single_venue")
    single = route.get("single_venue", {}).get(best or "", {})
    if best and "avg_price" in single and filled:
        # The single venue's cost for the quantity actually filled, at its decision-time prices.
        s_avg, s_fee_rate = Decimal(single["avg_price"]), Decimal(single["fee_rate"])
        s_notional = s_avg * filled
        s_cost = s_notional + d * s_notional * s_fee_rate
        saving = d * (s_cost - routed_cost)
        out["single_venue"] = {
            "venue": best, "expected_avg_price": str(s_avg), "expected_cost": str(s_cost),
            "saving": str(saving), "saving_bps": str((saving / s_cost * BPS).quantize(Q)) if s_cost else "0",
        }
    taking = [a for a in route.get("allocations", []) if not a.get("resting")]
    if taking and filled and filled == sum((Decimal(a["qty"]) for a in taking), ZERO):
        planned = sum((Decimal(a["expected_notional"]) + d * Decimal(a["expected_fee"]) for a in taking), ZERO)
        shortfall = d * (routed_cost - planned)
        out["execution"] = {
            "expected_cost": str(planned), "shortfall": str(shortfall),
            "shortfall_bps": str((shortfall / planned * BPS).quantize(Q)) if planned else "0",
        }
    out["expected"] = {"routed_cost": route.get("expected_routed_cost"),
                       "saving_vs_best_single": route.get("expected_saving_vs_best_single"),
                       "allocations": route.get("allocations", [])}
    out["routing"] = route.get("venues", [])
    return out
