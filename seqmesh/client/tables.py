"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    # A column of numbers is right-aligned, its header too, so digits line up under it.
    numbers = [any(_numeric(r[i]) for r in cells) and all(_numeric(r[i]) or r[i] in ("", "-") for r in cells)
               for i in range(len(headers))]

    def line(values: Sequence[str], header: bool = False) -> str:
        return "  ".join(v.rjust(w) if (num if header else _numeric(v)) else v.ljust(w)
                         for v, w, num in zip(values, widths, numbers, strict=True)).rstrip()

    return "\n".join([line(list(headers), header=True), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _numeric(v: str) -> bool:
    return bool(v) and v.removesuffix("%").replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit()


def tca_table(t: dict[str, Any]) -> str:
    ccy = t["fee_currency"]
    rows = [[v, d["qty"], _round(d["avg_price"]), _round(d["notional"]), _round(d["fees"])]
            for v, d in t["venues"].items()]
    rows.append(["TOTAL", t["filled"], _round(t["avg_price"]), _round(t["notional"]), _round(t["fees"])])
    kind = f"  ({t['type']})" if t.get("type") not in (None, "market", "limit") else ""
    out = [f"order {t['order_id']}  {t['side']} {t['quantity']} {t['symbol']}  state {t['state']}{kind}",
           table(["venue", "qty", "avg price", "notional", f"fees ({ccy})"], rows)]
    quality = [[v, _pct(d.get("share")), d.get("fills"), d.get("effective_spread_bps")]
               for v, d in t["venues"].items() if "share" in d]
    if quality:
        out.append(table(["venue", "share of fill", "fills", "eff. spread (bps)"], quality))
    arrival = f"arrival mid {_round(t.get('arrival_mid'))}"
    if t.get("arrival_bid") and t.get("arrival_ask"):
        arrival += f" (bid {_round(t['arrival_bid'])} / ask {_round(t['arrival_ask'])})"
    out.append(f"{arrival}   slippage {t.get('arrival_slippage_bps') or '-'} bps")
    out += _shortfall_lines(t.get("implementation_shortfall"), ccy)
    iv = t.get("interval_vwap")
    if iv and iv.get("vwap"):
        out.append(f"interval VWAP {_round(iv['vwap'])} over a market volume of {iv['market_volume']} "
                   f"(this order {_pct(iv['participation'])} of it): slippage {iv['slippage_bps'] or '-'} bps")
    es = t.get("effective_spread")
    if es and es.get("bps") is not None:
        out.append(f"effective spread {es['bps']} bps (quantity-weighted over {es['fills_measured']} fills); "
                   f"paid {_round(es['paid_vs_mid'])} {ccy} against the mid")
    sv = t.get("single_venue")
    what = "cost" if t["side"] == "buy" else "brought in"
    if sv and sv.get("basis", "order") == "order":
        out.append(f"best single venue {sv['venue']}: would have {what} {_round(sv['expected_cost'])}; "
                   f"routing saved {_round(sv['saving'])} ({sv['saving_bps']} bps)")
    elif sv:
        out.append(f"each slice's best single venue ({', '.join(sv['best_venues'])}, {sv['slices_compared']} "
                   f"slices): would have {what} {_round(sv['expected_cost'])}; routing saved "
                   f"{_round(sv['saving'])} ({sv['saving_bps']} bps)")
    exp = t.get("expected") or {}
    if exp.get("saving_vs_best_single") is not None:
        out.append(f"at decision time the route was expected to save {_round(exp['saving_vs_best_single'])} "
                   f"{ccy} against the best single venue")
    ex = t.get("execution")
    if ex:
        shortfall = Decimal(ex["shortfall"])
        if shortfall:
            out.append(f"the fills came in {_round(abs(shortfall))} {ccy} "
                       f"({abs(Decimal(ex['shortfall_bps']))} bps) {'worse' if shortfall > 0 else 'better'} "
                       "than the route's decision-time prices")
        else:
            out.append("the fills came in exactly at the route's decision-time prices")
    out += _schedule_lines(t.get("schedule"), t.get("decided_ns"), t["symbol"].split("/")[0])
    return "\n".join(out)


def _shortfall_lines(sh: dict[str, Any] | None, ccy: str) -> list[str]:
    if not sh:
        return []
    opp = (f"opportunity {_round(sh['opportunity_cost'])} on {sh['unfilled']} unfilled at mid "
           f"{_round(sh['mark_mid'])}" if Decimal(sh["unfilled"]) else "nothing unfilled")
    if sh["total"] is None:
        opp = f"opportunity unknown ({sh['unfilled']} unfilled, no mid to mark it at)"
    total = "-" if sh["total"] is None else f"{_round(sh['total'])} {ccy} ({sh['total_bps']} bps)"
    return [f"implementation shortfall {total}: execution {_round(sh['execution_cost'])} "
            f"({sh['execution_bps']} bps, fees {_round(sh['fees'])} included), {opp}"]


def _schedule_lines(sc: dict[str, Any] | None, t0: int | None, base: str, most: int = 20) -> list[str]:
    if not sc or not sc["points"]:
        return []
    pts = sc["points"]
    rows = [[pt["n"], f"{(pt['at_ns'] - (t0 or pts[0]['at_ns'])) / 1e9:.1f}", pt["sent"], pt["planned_cum"],
             pt["executed_cum"], pt["deviation"]] for pt in pts[-most:]]
    out = [f"schedule adherence: largest deviation {sc['max_deviation']} {base} ({sc['max_deviation_pct']}% of the "
           "order), "
           f"mean |deviation| {sc['mean_abs_deviation_pct']}%",
           table(["slice", "at (s)", "sent", "planned (cum)", "executed (cum)", "deviation"], rows)]
    if len(pts) > most:
        out.append(f"(the last {most} of {len(pts)} decisions)")
    return out


def _pct(v: Any) -> str:
    return "-" if v is None else f"{float(v) * 100:.2f}%"


def _round(v: Any, places: int = 4) -> str:
    if v is None:
        return "-"
    try:
        text = f"{float(v):,.{places}f}"
    except ValueError:
        return str(v)
    # A value that rounds to zero prints without a sign: "-0.0000" reads as a loss that is not there.
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text
