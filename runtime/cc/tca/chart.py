"""The chart of an execution, as SVG: fills over time per venue (a point each, its area by
quantity) against the market mid and the arrival mid, and for TWAP/VWAP the plan's cumulative
quantity against what was executed, on a second axis. Times are seconds since the order's
decision on the CC's clock, as in the report.

matplotlib is imported here, only when a chart is drawn, so the CC and the CLI start without
it. The figure is drawn through the object API on an Agg canvas (no pyplot: no GUI backend,
no global figure list). Past MAX_POINTS fills, a venue's are drawn per time bucket. The
elements carry ids (`fills-<venue>`, `mid`, `arrival-mid`, `planned`, `executed`) so a reader
of the SVG finds each series.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

from ..domain import Fill, Parent
from .figures import arrival_mid, mid_samples, order_fills, schedule_adherence

NS = 1e9
MAX_POINTS = 600  # beyond this many fills, a venue's fills are drawn per time bucket (VWAP, summed size)
BUCKETS = 300


def points(fills: Sequence[Fill], t0: int) -> dict[str, list[tuple[float, float, Decimal]]]:
    """Per venue, (seconds, price, quantity) to draw: one per fill, or per time bucket (its
    quantity-weighted time and price, summed quantity) when there are too many to read."""
    out: dict[str, list[tuple[float, float, Decimal]]] = {}
    if len(fills) <= MAX_POINTS:
        for f in fills:
            out.setdefault(f.venue, []).append(((f.booked_ns - t0) / NS, float(f.price), f.qty))
        return out
    first, last = fills[0].booked_ns, fills[-1].booked_ns
    width = max((last - first) // BUCKETS + 1, 1)
    acc: dict[tuple[str, int], tuple[Decimal, Decimal, Decimal]] = {}
    for f in fills:
        key = (f.venue, (f.booked_ns - first) // width)
        q, notional, qt = acc.get(key, (Decimal(0), Decimal(0), Decimal(0)))
        acc[key] = (q + f.qty, notional + f.price * f.qty, qt + f.qty * (f.booked_ns - t0))
    for (venue, _), (q, notional, qt) in sorted(acc.items()):
        out.setdefault(venue, []).append((float(qt / q) / NS, float(notional / q), q))
    return out


def svg(p: Parent, slices: Sequence[Parent] = ()) -> bytes:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Text stays text (searchable, smaller) and ids are stable from one drawing to the next.
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "seqmesh-tca"
    base, quote = p.symbol.split("/")
    t0 = int(p.decision.get("decided_ns") or p.created_ns)
    fills = order_fills(p, slices)
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    samples = mid_samples(p)
    if samples:
        ax.step([(t - t0) / NS for t, _ in samples], [float(m) for _, m in samples], where="post",
                color="0.45", linewidth=1.2, label="market mid", gid="mid")
    m0 = arrival_mid(p)
    if m0 is not None:
        ax.axhline(float(m0), color="0.2", linestyle=":", linewidth=1, label="arrival mid", gid="arrival-mid")
    drawn = points(fills, t0)
    biggest = max((q for pts in drawn.values() for _, _, q in pts), default=Decimal(1))
    for venue, pts in sorted(drawn.items()):
        label = f"fills {venue}" + (" (per time bucket)" if len(fills) > MAX_POINTS else "")
        ax.scatter([x for x, _, _ in pts], [y for _, y, _ in pts], s=[20 + 280 * float(q / biggest) for _, _, q in pts],
                   alpha=0.7, edgecolors="black", linewidths=0.4, label=label, gid=f"fills-{venue}")
    ax.set_xlabel("seconds since the order's decision")
    ax.set_ylabel(f"price ({quote})")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    schedule = schedule_adherence(p, fills)
    if schedule is not None and schedule["points"]:
        ax2 = ax.twinx()
        pts = schedule["points"]
        ax2.step([(pt["at_ns"] - t0) / NS for pt in pts], [float(pt["planned_cum"]) for pt in pts], where="post",
                 color="tab:blue", linestyle="--", label="planned (cumulative)", gid="planned")
        cum, xs, ys = Decimal(0), [0.0], [0.0]
        for f in fills:
            cum += f.qty
            xs.append((f.booked_ns - t0) / NS)
            ys.append(float(cum))
        ax2.step(xs, ys, where="post", color="tab:green", label="executed (cumulative)", gid="executed")
        ax2.set_ylim(0, float(p.qty) * 1.05)
        ax2.set_ylabel(f"cumulative quantity ({base})")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:
        ax.legend(handles, labels, loc="best", fontsize="small")
    ax.set_title(f"{p.order_id}  {p.side.value} {p.qty} {p.symbol} {p.type.value}  ({p.state.value})")
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
