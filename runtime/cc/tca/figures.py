"""Transaction cost analysis of one parent order: each figure compares the order's fills with
one benchmark, in exact Decimals (bps quantised to 0.0001 at the end).

Notation. D = +1 buying, -1 selling. Fill i: price P_i, quantity q_i, fee f_i (in the quote
currency; a base-asset fee valued at its fill's price). Q the order's quantity, F = Σ q_i
what filled, P̄ = Σ P_i q_i / F. M0 the arrival mid: the NBBO mid when the order was decided
(the router's decision for a market or limit order, acceptance for an execution algorithm).
Times are the CC's clock: a fill's time is when the CC booked it. In every figure a positive
cost (or bps) means the fills did worse than the benchmark; a positive saving, better.

- Arrival slippage (bps) = D (P̄ - M0) / M0 x 1e4: the fills against the market when the
  order arrived, fees left out.
- Implementation shortfall (Perold): a paper portfolio trades all Q at M0, without fees.
      execution   = D (Σ P_i q_i - M0 F) + Σ f_i
      opportunity = D (M_mark - M0) (Q - F)
      shortfall   = execution + opportunity, in bps of the paper notional M0 Q.
  M_mark prices the unfilled part: the current mid while the order is live; once it is
  final, the last mid recorded while it worked (an algorithm's samples), else the current mid.
- Interval VWAP (execution algorithms): VWAP = market notional / market volume, everything
  traded in the symbol on every venue between the algorithm's start and its end (its own
  prints included); slippage (bps) = D (P̄ - VWAP) / VWAP x 1e4.
- Effective spread of fill i (bps) = 2 D (P_i - M_i) / M_i x 1e4, M_i the mid prevailing
  when it filled: a market or limit order's decision-time mid; for an algorithm the latest
  sample at or before the fill (the mid at each slice decision and the market's, once a
  second), or the first after it when none is earlier. The order's figure weighs fills by
  quantity: Σ q_i es_i / Σ q_i. `paid_vs_mid` = Σ D (P_i - M_i) q_i (quote currency).
- Per venue: quantity, share of F, average price, notional, fees, maker quantity and the
  venue's effective spread.
- Single venue: what sweeping the filled quantity through the best single venue's book at
  decision time, with its taker fee, would have cost (buying; selling: brought in):
      C_single = S F (1 + D r), S its decision-time average price, r its taker fee;
      routed cost = Σ P_i q_i + D Σ f_i; saving = D (C_single - routed), bps of C_single.
  An algorithm's slices are each routed: the comparison sums slice by slice.
- Execution against the route (market and limit orders): the fills against the route's own
  decision-time prices and fees (its latency penalty is a routing weight, not a cost).
- Schedule adherence (TWAP and VWAP): at each decision k, the plan's cumulative target after
  it (T_k) against what had filled by the next decision (E_k: fills booked before it; the
  last decision: every fill): deviation_k = E_k - T_k (> 0 ahead, < 0 behind), also in % of Q.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from ..domain import PARENT_TERMINAL, Fill, OrderType, Parent

ZERO = Decimal(0)
BPS = Decimal(10_000)
Q = Decimal("0.0001")
SCHEDULED = (OrderType.TWAP, OrderType.VWAP)


def bps(x: Decimal) -> str:
    return str((x * BPS).quantize(Q))


def order_fills(p: Parent, slices: Sequence[Parent] = ()) -> list[Fill]:
    """The order's fills in booking order. An algorithm's are its slices' (its own list is
    rebuilt in memory while it runs; read back from the ledger it has none)."""
    seen: dict[str, Fill] = {f.fill_id: f for f in p.fills}
    for s in slices:
        for f in s.fills:
            seen.setdefault(f.fill_id, f)
    return sorted(seen.values(), key=lambda f: f.booked_ns)


def arrival_mid(p: Parent) -> Decimal | None:
    mid = p.decision.get("route", {}).get("arrival_mid")
    return Decimal(mid) if mid else None


def mid_samples(p: Parent) -> list[tuple[int, Decimal]]:
    """(time, mid) known for the order, oldest first: the decision's mid, an algorithm's mid at
    each slice decision and its once-a-second market samples. Where two share a time, the
    decision's is kept (it was taken before the slice was sent)."""
    out: dict[int, Decimal] = {}
    algo = p.decision.get("algo")
    if algo is not None:
        prog = algo["progress"]
        for ts, mid in prog.get("mids", []):
            out[int(ts)] = Decimal(mid)
        for d in prog.get("plan", []):
            if d.get("mid"):
                out[int(d["at_ns"])] = Decimal(d["mid"])
    m0, decided = arrival_mid(p), p.decision.get("decided_ns")
    if m0 is not None and decided is not None:
        out[int(decided)] = m0
    return sorted(out.items())


def prevailing_mid(times: Sequence[int], samples: Sequence[tuple[int, Decimal]], t: int) -> Decimal | None:
    """The latest sample at or before `t`; the first one after it if none is earlier
    (`times`: the samples' times)."""
    if not samples:
        return None
    i = bisect.bisect_right(times, t)
    return samples[i - 1][1] if i else samples[0][1]


def fill_mids(p: Parent, fills: Sequence[Fill], samples: Sequence[tuple[int, Decimal]]) -> list[Decimal | None]:
    """M_i for each fill (see the module's doc); `samples` from `mid_samples`."""
    if not p.type.is_algo:
        m0 = arrival_mid(p)
        return [m0 for _ in fills]
    times = [ts for ts, _ in samples]
    return [prevailing_mid(times, samples, f.booked_ns) for f in fills]


def totals(fills: Iterable[Fill], quote: str) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity, notional, fees in the quote currency)."""
    qty = notional = fees = ZERO
    for f in fills:
        qty += f.qty
        notional += f.price * f.qty
        fees += f.fee_in_quote(quote)
    return qty, notional, fees


def arrival_slippage(d: int, avg: Decimal | None, m0: Decimal | None) -> str | None:
    return None if avg is None or not m0 else bps(d * (avg - m0) / m0)


def implementation_shortfall(d: int, qty: Decimal, filled: Decimal, notional: Decimal, fees: Decimal,
                             m0: Decimal | None, mark: Decimal | None, mark_source: str | None,
                             ) -> dict[str, Any] | None:
    if not m0:
        return None
    paper = m0 * qty
    unfilled = qty - filled
    execution = d * (notional - m0 * filled) + fees
    opportunity = ZERO if not unfilled else (None if mark is None else d * (mark - m0) * unfilled)
    out: dict[str, Any] = {
        "paper_notional": str(paper), "execution_cost": str(execution), "fees": str(fees),
        "unfilled": str(unfilled), "mark_mid": None if mark is None or not unfilled else str(mark),
        "mark_source": mark_source if unfilled else None,
        "opportunity_cost": None if opportunity is None else str(opportunity),
        "execution_bps": bps(execution / paper),
    }
    if opportunity is not None:
        total = execution + opportunity
        out.update(total=str(total), total_bps=bps(total / paper), opportunity_bps=bps(opportunity / paper))
    else:  # unfilled with no mid to price it: the shortfall is not known, only its execution part
        out.update(total=None, total_bps=None, opportunity_bps=None)
    return out


def mark_mid(p: Parent, samples: Sequence[tuple[int, Decimal]], current: Decimal | None,
             ) -> tuple[Decimal | None, str | None]:
    """The mid that prices the unfilled quantity, and where it came from."""
    if p.state not in PARENT_TERMINAL and current is not None:
        return current, "current"
    decided = int(p.decision.get("decided_ns") or 0)
    if samples and samples[-1][0] > decided:
        return samples[-1][1], "last_recorded"
    return (current, "current") if current is not None else (None, None)


def interval_vwap(p: Parent, d: int, filled: Decimal, avg: Decimal | None) -> dict[str, Any] | None:
    algo = p.decision.get("algo")
    if algo is None:
        return None
    prog = algo["progress"]
    volume, notional = Decimal(prog.get("volume", "0")), Decimal(prog.get("notional", "0"))
    if not volume:
        return {"vwap": None, "market_volume": "0", "market_notional": str(notional), "slippage_bps": None,
                "participation": None}
    vwap = notional / volume
    return {"vwap": str(vwap), "market_volume": str(volume), "market_notional": str(notional),
            "slippage_bps": None if avg is None else bps(d * (avg - vwap) / vwap),
            "participation": str((filled / volume).quantize(Q))}


def effective_spread(d: int, fills: Sequence[Fill], mids: Sequence[Decimal | None]) -> dict[str, Any]:
    weighted = qty = paid = ZERO
    n = 0
    for f, m in zip(fills, mids, strict=True):
        if not m:
            continue
        weighted += f.qty * 2 * d * (f.price - m) / m
        paid += d * (f.price - m) * f.qty
        qty += f.qty
        n += 1
    return {"bps": bps(weighted / qty) if qty else None, "paid_vs_mid": str(paid), "fills_measured": n,
            "qty_measured": str(qty)}


def per_venue(d: int, fills: Sequence[Fill], mids: Sequence[Decimal | None], quote: str,
              filled: Decimal) -> dict[str, dict[str, Any]]:
    by: dict[str, list[int]] = {}
    for i, f in enumerate(fills):
        by.setdefault(f.venue, []).append(i)
    out: dict[str, dict[str, Any]] = {}
    for venue, idx in sorted(by.items()):
        vf = [fills[i] for i in idx]
        qty, notional, fees = totals(vf, quote)
        out[venue] = {
            "qty": str(qty), "share": str((qty / filled).quantize(Q)) if filled else None,
            "avg_price": str(notional / qty), "notional": str(notional), "fees": str(fees),
            "maker_qty": str(sum((f.qty for f in vf if f.maker), ZERO)), "fills": len(vf),
            "effective_spread_bps": effective_spread(d, vf, [mids[i] for i in idx])["bps"],
        }
    return out


def pool_costs(venues: dict[str, dict[str, Any]], route: dict[str, Any], d: int) -> None:
    """An AMM pool's row gains what a pool charges beyond its fee: the gas (its fees here) and
    the price impact, the average paid against the pool's own price when the order was routed."""
    for a in route.get("allocations", []):
        row = venues.get(a["venue"])
        if a.get("kind") != "pool" or row is None or not a.get("pool_mid"):
            continue
        mid = Decimal(a["pool_mid"])
        row["kind"] = "pool"
        row["gas"] = row["fees"]
        row["pool_mid"] = a["pool_mid"]
        row["price_impact_bps"] = bps((Decimal(row["avg_price"]) - mid) / mid * d)
        row["expected_price_impact_bps"] = a.get("expected_price_impact_bps")


def single_venue_cost(route: dict[str, Any], d: int, filled: Decimal) -> tuple[str, Decimal, Decimal] | None:
    """(venue, average price, C_single) of the route's best single venue for `filled`."""
    best = route.get("best_single_venue")
    single = route.get("single_venue", {}).get(best or "", {})
    if not best or "avg_price" not in single or not filled:
        return None
    avg = Decimal(single["avg_price"])
    s_notional = avg * filled
    return best, avg, s_notional + d * s_notional * Decimal(single["fee_rate"])


def single_venue(p: Parent, d: int, filled: Decimal, routed_cost: Decimal) -> dict[str, Any] | None:
    found = single_venue_cost(p.decision.get("route", {}), d, filled)
    if found is None:
        return None
    venue, avg, cost = found
    saving = d * (cost - routed_cost)
    return {"basis": "order", "venue": venue, "expected_avg_price": str(avg), "expected_cost": str(cost),
            "saving": str(saving), "saving_bps": bps(saving / cost) if cost else "0"}


def single_venue_by_slice(d: int, slices: Sequence[Parent], quote: str) -> dict[str, Any] | None:
    """Each slice's fills against its own route's best single venue, summed."""
    cost = routed = ZERO
    venues: dict[str, int] = {}
    for s in slices:
        qty, notional, fees = totals(s.fills, quote)
        found = single_venue_cost(s.decision.get("route", {}), d, qty)
        if found is None:
            continue
        cost += found[2]
        routed += notional + d * fees
        venues[found[0]] = venues.get(found[0], 0) + 1
    if not venues:
        return None
    saving = d * (cost - routed)
    return {"basis": "slices", "slices_compared": sum(venues.values()), "best_venues": dict(sorted(venues.items())),
            "expected_cost": str(cost), "routed_cost": str(routed), "saving": str(saving),
            "saving_bps": bps(saving / cost) if cost else "0"}


def execution_vs_route(p: Parent, d: int, filled: Decimal, routed_cost: Decimal) -> dict[str, Any] | None:
    taking = [a for a in p.decision.get("route", {}).get("allocations", []) if not a.get("resting")]
    if not taking or not filled or filled != sum((Decimal(a["qty"]) for a in taking), ZERO):
        return None
    planned = sum((Decimal(a["expected_notional"]) + d * Decimal(a["expected_fee"]) for a in taking), ZERO)
    shortfall = d * (routed_cost - planned)
    return {"expected_cost": str(planned), "shortfall": str(shortfall),
            "shortfall_bps": bps(shortfall / planned) if planned else "0"}


def schedule_adherence(p: Parent, fills: Sequence[Fill]) -> dict[str, Any] | None:
    """`fills` in booking order (as `order_fills` gives them)."""
    if p.type not in SCHEDULED:
        return None
    plan = p.decision["algo"]["progress"].get("plan", [])
    points: list[dict[str, Any]] = []
    executed, i = ZERO, 0  # fills are in booking order: one pass over them
    for k, dec in enumerate(plan):
        until = plan[k + 1]["at_ns"] if k + 1 < len(plan) else None
        while i < len(fills) and (until is None or fills[i].booked_ns < until):
            executed += fills[i].qty
            i += 1
        target = Decimal(dec["target_cum"])
        points.append({"n": dec["n"], "at_ns": dec["at_ns"], "nominal_ns": dec["nominal_ns"],
                       "sent": dec["qty"], "planned_cum": str(target), "executed_cum": str(executed),
                       "deviation": str(executed - target),
                       "deviation_pct": str(((executed - target) / p.qty * 100).quantize(Q))})
    devs = [Decimal(pt["deviation"]) for pt in points]
    worst = max(devs, key=abs) if devs else None
    return {
        "points": points,
        "max_deviation": None if worst is None else str(worst),
        "max_deviation_pct": None if worst is None else str((worst / p.qty * 100).quantize(Q)),
        "mean_abs_deviation_pct": str((sum((abs(x) for x in devs), ZERO) / len(devs) / p.qty * 100).quantize(Q))
        if devs else None,
    }


def report(p: Parent, slices: Sequence[Parent] = (), current_mid: Decimal | None = None) -> dict[str, Any]:
    """The order's TCA. `slices`: an execution algorithm's slice orders (their fills and routes);
    `current_mid`: the symbol's mid now (prices a live order's unfilled part)."""
    quote = p.symbol.split("/")[1]
    d = p.side.sign
    fills = order_fills(p, slices)
    filled, notional, fees = totals(fills, quote)
    avg = notional / filled if filled else None
    samples = mid_samples(p)
    mids = fill_mids(p, fills, samples)
    m0 = arrival_mid(p)
    route = p.decision.get("route", {})
    routed_cost = notional + d * fees  # buying: paid; selling: received, net of fees
    mark, source = mark_mid(p, samples, current_mid)
    out: dict[str, Any] = {
        "order_id": p.order_id, "symbol": p.symbol, "side": p.side.value, "type": p.type.value,
        "state": p.state.value, "quantity": str(p.qty), "filled": str(filled), "unfilled": str(p.qty - filled),
        "avg_price": None if avg is None else str(avg), "notional": str(notional), "fees": str(fees),
        "fee_currency": quote, "venues": per_venue(d, fills, mids, quote, filled),
        "arrival_mid": None if m0 is None else str(m0),
        "arrival_bid": route.get("arrival_bid"), "arrival_ask": route.get("arrival_ask"),
        "decided_ns": p.decision.get("decided_ns"),
        "arrival_slippage_bps": arrival_slippage(d, avg, m0),
        "implementation_shortfall": implementation_shortfall(d, p.qty, filled, notional, fees, m0, mark, source),
        "interval_vwap": interval_vwap(p, d, filled, avg),
        "effective_spread": effective_spread(d, fills, mids),
        "routed_cost": str(routed_cost),
        "single_venue": (single_venue_by_slice(d, slices, quote) if p.type.is_algo
                         else single_venue(p, d, filled, routed_cost)),
        "execution": None if p.type.is_algo else execution_vs_route(p, d, filled, routed_cost),
        "schedule": schedule_adherence(p, fills),
    }
    if not p.type.is_algo:
        pool_costs(out["venues"], route, d)
        out["expected"] = {"routed_cost": route.get("expected_routed_cost"),
                           "saving_vs_best_single": route.get("expected_saving_vs_best_single"),
                           "allocations": route.get("allocations", [])}
        out["routing"] = route.get("venues", [])
    return out
