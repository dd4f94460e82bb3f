"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(values, widths, strict=True))

    return "\n".join([line(list(headers)), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _numeric(v: str) -> bool:
    return bool(v) and v.replace(".", "", 1).replace("-", "", 1).isdigit()


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
    return "\n".join(out)


def _round(v: Any, places: int = 4) -> str:
    if v is None:
        return "-"
    try:
        return f"{float(v):,.{places}f}"
    except ValueError:
        return str(v)
