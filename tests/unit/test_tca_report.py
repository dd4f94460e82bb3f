"""TCA figures against values worked out here by hand from the fills, mids and plan (the
formulas written out again in the test, never by calling the report's own helpers)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from seqmesh.runtime.cc.domain import Fill, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.tca import report

S = 1_000_000_000
T0 = 1_700_000_000 * S
MS = 1_000_000
BPS = D(10_000)
Q4 = D("0.0001")


def bps(x: D) -> str:
    return str((x * BPS).quantize(Q4))


def fill(n: int, parent: str, venue: str, price: str, qty: str, at: int, fee: str = "0", fee_asset: str = "USDT",
         maker: bool = False, side: Side = Side.BUY) -> Fill:
    return Fill(f"f{n}", f"c{n}", parent, venue, "BTC/USDT", side, D(price), D(qty), D(fee), fee_asset, maker,
                at, at)


def route(mid: str | None, best: str | None = None, avg: str = "0", fee_rate: str = "0",
          allocations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    single = {best: {"fillable": "1", "cost": "0", "avg_price": avg, "fee_rate": fee_rate}} if best else {}
    return {"arrival_mid": mid, "best_single_venue": best, "single_venue": single,
            "allocations": allocations or [], "venues": []}


# A TWAP buying 0.9 in three slices, 10 s apart, that expired with 0.1 unfilled.
F1 = fill(1, "s0", "binance", "100.05", "0.2", T0 + MS, fee="0.02")
F2 = fill(2, "s0", "okx", "100.10", "0.1", T0 + MS, fee="0.0001", fee_asset="BTC")  # a base-asset fee
F3 = fill(3, "s1", "binance", "100.6", "0.25", T0 + 10 * S + MS, fee="0.025", maker=True)
F4 = fill(4, "s2", "okx", "101.3", "0.25", T0 + 20 * S + MS, fee="0.03")
PLAN = [{"n": k, "nominal_ns": T0 + k * 10 * S, "at_ns": T0 + k * 10 * S, "planned_qty": "0.3", "qty": q,
         "target_cum": str(D("0.3") * (k + 1)), "done_before": "0", "mid": mid}
        for k, (q, mid) in enumerate([("0.3", "100"), ("0.3", "100.4"), ("0.35", "101.2")])]


def twap(fills: list[Fill], state: ParentState = ParentState.EXPIRED) -> Parent:
    return Parent("a1", "dev", "", "BTC/USDT", Side.BUY, OrderType.TWAP, D("0.9"), None, state, T0, T0 + 30 * S,
                  decision={"decided_ns": T0,
                            "route": {"arrival_mid": "100", "arrival_bid": "99.99", "arrival_ask": "100.01"},
                            "algo": {"params": {"duration_s": 30, "slices": 3},
                                     "progress": {"started_ns": T0, "slices": ["s0", "s1", "s2"], "plan": PLAN,
                                                  "volume": "10", "notional": "1005",
                                                  "mids": [[T0 + 5 * S, "100.5"], [T0 + 15 * S, "101"]]}}},
                  fills=fills)


def slice_(sid: str, fills: list[Fill], r: dict[str, Any]) -> Parent:
    qty = sum((f.qty for f in fills), D(0))
    return Parent(sid, "dev", f"a1.{sid}", "BTC/USDT", Side.BUY, OrderType.MARKET, qty, None, ParentState.FILLED,
                  T0, T0, decision={"decided_ns": T0, "route": r, "algo_parent": "a1"}, fills=fills)


SLICES = [slice_("s0", [F1, F2], route("100", "kraken", "100.2", "0.001")),
          slice_("s1", [F3], route("100.4", "binance", "100.55", "0.001")),
          slice_("s2", [F4], route("101.2"))]  # no single venue could take it: not compared


def test_an_algorithm_s_figures_match_the_hand_worked_values() -> None:
    t = report(twap([]), SLICES, current_mid=D("150"))  # fills come from the slices (as after a restart)
    fees = D("0.02") + D("0.0001") * D("100.10") + D("0.025") + D("0.03")
    notional = D("100.05") * D("0.2") + D("100.10") * D("0.1") + D("100.6") * D("0.25") + D("101.3") * D("0.25")
    filled = D("0.8")
    avg = notional / filled
    assert (D(t["filled"]), D(t["unfilled"]), t["type"]) == (filled, D("0.1"), "twap")
    assert D(t["notional"]) == notional and D(t["fees"]) == fees and D(t["avg_price"]) == avg
    assert t["arrival_mid"] == "100" and (t["arrival_bid"], t["arrival_ask"]) == ("99.99", "100.01")
    assert t["arrival_slippage_bps"] == bps((avg - 100) / 100)

    # Perold: paper = 0.9 at 100; the unfilled 0.1 is marked at the last mid recorded (101.2, the
    # last decision's), not at the current 150: the order is final.
    sh = t["implementation_shortfall"]
    execution = notional - D(100) * filled + fees
    opportunity = (D("101.2") - 100) * D("0.1")
    assert D(sh["execution_cost"]) == execution and D(sh["opportunity_cost"]) == opportunity
    assert D(sh["total"]) == execution + opportunity and sh["total_bps"] == bps((execution + opportunity) / 90)
    assert (sh["mark_mid"], sh["mark_source"], sh["paper_notional"]) == ("101.2", "last_recorded", "90.0")

    iv = t["interval_vwap"]
    assert D(iv["vwap"]) == D("100.5") and iv["slippage_bps"] == bps((avg - D("100.5")) / D("100.5"))
    assert D(iv["participation"]) == D("0.08")

    # Effective spread: fills 1-2 at the first decision's mid (100), 3 at 100.4, 4 at 101.2
    # (a decision mid wins over the 101 sampled earlier).
    es_i = [(F1, D(100)), (F2, D(100)), (F3, D("100.4")), (F4, D("101.2"))]
    weighted = sum((f.qty * 2 * (f.price - m) / m for f, m in es_i), D(0)) / filled
    assert t["effective_spread"]["bps"] == bps(weighted)
    assert D(t["effective_spread"]["paid_vs_mid"]) == sum(((f.price - m) * f.qty for f, m in es_i), D(0))
    assert t["effective_spread"]["fills_measured"] == 4

    b, o = t["venues"]["binance"], t["venues"]["okx"]
    assert (D(b["qty"]), D(o["qty"])) == (D("0.45"), D("0.35")) and (b["fills"], o["fills"]) == (2, 2)
    assert D(b["avg_price"]) == (D("100.05") * D("0.2") + D("100.6") * D("0.25")) / D("0.45")
    assert D(b["fees"]) == D("0.045") and D(o["fees"]) == D("0.0001") * D("100.10") + D("0.03")
    assert D(b["maker_qty"]) == D("0.25") and b["share"] == str((D("0.45") / filled).quantize(Q4))
    assert b["effective_spread_bps"] == bps((D("0.2") * 2 * D("0.05") / 100 + D("0.25") * 2 * D("0.2") / D("100.4"))
                                            / D("0.45"))

    # Per slice: s0 against kraken's sweep, s1 against binance's; s2 had no single venue.
    cost = D("100.2") * D("0.3") * D("1.001") + D("100.55") * D("0.25") * D("1.001")
    routed = (D("100.05") * D("0.2") + D("0.02") + D("100.10") * D("0.1") + D("0.0001") * D("100.10")
              + D("100.6") * D("0.25") + D("0.025"))
    sv = t["single_venue"]
    assert sv["basis"] == "slices" and sv["slices_compared"] == 2 and sv["best_venues"] == {"binance": 1, "kraken": 1}
    assert D(sv["expected_cost"]) == cost and D(sv["saving"]) == cost - routed
    assert sv["saving_bps"] == bps((cost - routed) / cost)

    # Adherence: by the 2nd decision 0.3 of a planned 0.3; by the 3rd 0.55 of 0.6; at the end 0.8 of 0.9.
    sc = t["schedule"]
    assert [tuple(D(p[k]) for k in ("planned_cum", "executed_cum", "deviation")) for p in sc["points"]] == [
        (D("0.3"), D("0.3"), 0), (D("0.6"), D("0.55"), D("-0.05")), (D("0.9"), D("0.8"), D("-0.1"))]
    assert D(sc["max_deviation"]) == D("-0.1")
    assert sc["max_deviation_pct"] == str((D("-0.1") / D("0.9") * 100).quantize(Q4))
    assert sc["mean_abs_deviation_pct"] == str((D("0.15") / 3 / D("0.9") * 100).quantize(Q4))


def test_an_algorithm_s_own_fills_and_its_slices_count_once() -> None:
    assert D(report(twap([F1, F2, F3, F4]), SLICES)["filled"]) == D("0.8")


def test_a_live_order_marks_its_unfilled_part_at_the_current_mid() -> None:
    sh = report(twap([F1], ParentState.WORKING), [], current_mid=D("99"))["implementation_shortfall"]
    assert (sh["mark_mid"], sh["mark_source"]) == ("99", "current")
    assert D(sh["opportunity_cost"]) == (D(99) - 100) * D("0.7")


def test_a_sell_market_order_against_its_route() -> None:
    mid = D("200")
    allocations = [{"venue": "binance", "qty": "1.5", "expected_notional": "299.7", "expected_fee": "0.2997",
                    "resting": False}]
    fills = [fill(1, "m1", "binance", "199.8", "1", T0 + MS, fee="0.1998", side=Side.SELL),
             fill(2, "m1", "binance", "199.7", "0.5", T0 + 2 * MS, fee="0.09985", side=Side.SELL)]
    p = Parent("m1", "dev", "", "BTC/USDT", Side.SELL, OrderType.MARKET, D("2"), None, ParentState.CANCELED, T0, T0,
               decision={"decided_ns": T0, "route": route("200", "binance", "199.78", "0.001", allocations)},
               fills=fills)
    t = report(p, current_mid=D("198"))
    notional, fees, filled = D("199.8") + D("99.85"), D("0.1998") + D("0.09985"), D("1.5")
    avg = notional / filled
    assert t["arrival_slippage_bps"] == bps(-(avg - mid) / mid)  # sold below the mid: a cost, > 0
    assert D(t["arrival_slippage_bps"]) > 0
    sh = t["implementation_shortfall"]
    execution = -(notional - mid * filled) + fees
    opportunity = -(D(198) - mid) * D("0.5")  # the market fell under the unsold half: a cost too
    assert (D(sh["execution_cost"]), D(sh["opportunity_cost"]), sh["mark_source"]) == (execution, opportunity,
                                                                                      "current")
    assert sh["total_bps"] == bps((execution + opportunity) / (mid * 2))
    # a market order's fills are measured against its decision-time mid
    assert t["effective_spread"]["bps"] == bps((2 * -(D("199.8") - mid) / mid + D("0.5") * 2 * -(D("199.7") - mid)
                                                / mid) / filled)
    routed = notional - fees
    single = D("199.78") * filled * (1 - D("0.001"))
    assert D(t["routed_cost"]) == routed
    assert t["single_venue"]["basis"] == "order" and D(t["single_venue"]["saving"]) == -(single - routed)
    planned = D("299.7") - D("0.2997")
    assert D(t["execution"]["expected_cost"]) == planned and D(t["execution"]["shortfall"]) == -(routed - planned)
    assert t["interval_vwap"] is None and t["schedule"] is None


def test_an_unfilled_part_with_no_mid_to_mark_it_leaves_the_shortfall_open() -> None:
    p = Parent("m2", "dev", "", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("1"), D("100"), ParentState.CANCELED, T0, T0,
               decision={"decided_ns": T0, "route": route("100")}, fills=[fill(1, "m2", "okx", "100", "0.5", T0)])
    sh = report(p)["implementation_shortfall"]
    assert sh["total"] is None and sh["opportunity_cost"] is None and D(sh["execution_cost"]) == 0


def test_an_order_without_fills_or_mid_reports_what_it_can() -> None:
    p = Parent("m3", "dev", "", "BTC/USDT", Side.BUY, OrderType.MARKET, D("1"), None, ParentState.REJECTED, T0, T0,
               decision={"route": route(None)})
    t = report(p)
    assert t["filled"] == "0" and t["avg_price"] is None and t["arrival_slippage_bps"] is None
    assert t["implementation_shortfall"] is None and t["effective_spread"]["bps"] is None and t["venues"] == {}
