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
    return bool(v) and v.replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit()


def tca_table(t: dict[str, Any]) -> str:
    rows = [[v, d["qty"], _round(d["avg_price"]), _round(d["notional"]), _round(d["fees"])]
            for v, d in t["venues"].items()]
    rows.append(["TOTAL", t["filled"], _round(t["avg_price"]), _round(t["notional"]), _round(t["fees"])])
    out = [f"order {t['order_id']}  {t['side']} {t['quantity']} {t['symbol']}  state {t['state']}",
           table(["venue", "qty", "avg price", "notional", f"fees ({t['fee_currency']})"], rows),
           f"arrival mid {_round(t.get('arrival_mid'))}   slippage {t.get('arrival_slippage_bps', '-')} bps"]
    sv = t.get("single_venue")
    if sv:
        what = "cost" if t["side"] == "buy" else "brought in"
        out.append(f"best single venue {sv['venue']}: would have {what} {_round(sv['expected_cost'])}; "
                   f"routing saved {_round(sv['saving'])} ({sv['saving_bps']} bps)")
    exp = t.get("expected") or {}
    if exp.get("saving_vs_best_single") is not None:
        out.append(f"at decision time the route was expected to save {_round(exp['saving_vs_best_single'])} "
                   f"{t['fee_currency']} against the best single venue")
    ex = t.get("execution")
    if ex:
        shortfall = Decimal(ex["shortfall"])
        if shortfall:
            out.append(f"the fills came in {_round(abs(shortfall))} {t['fee_currency']} "
                       f"({abs(Decimal(ex['shortfall_bps']))} bps) {'worse' if shortfall > 0 else 'better'} "
                       "than the route's decision-time prices")
        else:
            out.append("the fills came in exactly at the route's decision-time prices")
    return "\n".join(out)


def _round(v: Any, places: int = 4) -> str:
    if v is None:
        return "-"
    try:
        text = f"{float(v):,.{places}f}"
    except ValueError:
        return str(v)
    # A value that rounds to zero prints without a sign: "-0.0000" reads as a loss that is not there.
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text
