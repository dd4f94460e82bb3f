"""TCA of a TWAP worked against the simulated venues (a CC in this process on a ManualClock,
venues and edges real processes): the report's figures recomputed here from the fills the API
shows, the market trades the CC saw while the TWAP ran and its recorded plan and mids; the
chart from the API and from `seqmesh tca ID --plot FILE`."""

from __future__ import annotations

import asyncio
import re
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
from seqmesh.runtime.cc.app import CCApp
from seqmesh.runtime.cc.bus import TradePrinted
from seqmesh.runtime.cc.clock import ManualClock
from seqmesh.runtime.cc.domain import ParentState

from .test_execalgos import SYMBOL, cc, venues, work

__all__ = ["cc", "venues"]  # the fixtures, shared with the execution algorithms' tests
BPS = D(10_000)
Q4 = D("0.0001")


def bps(x: D) -> str:
    return str((x * BPS).quantize(Q4))


def quote_fee(f: dict[str, Any]) -> D:
    return D(f["fee"]) if f["fee_asset"] == "USDT" else D(f["fee"]) * D(f["price"])


async def test_a_twap_s_tca_matches_figures_recomputed_from_its_fills_and_the_market(
        cc: tuple[CCApp, ManualClock], tmp_path: Path) -> None:
    app, clock = cc
    # The market volume the TWAP participates in, counted here from the CC's own trade events while
    # the algorithm is running (the scheduler counts in the same dispatch, so the windows agree).
    seen = {"volume": D(0), "notional": D(0)}

    def on_trade(ev: TradePrinted) -> None:
        if ev.symbol == SYMBOL and app.scheduler.runs:
            seen["volume"] += ev.qty
            seen["notional"] += ev.qty * ev.price

    app.bus.subscribe(TradePrinted, on_trade)
    qty = D("0.05")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.port}", timeout=30,
                                 headers={"Authorization": "Bearer seqmesh-dev-key"}) as http:
        resp = await http.post("/v1/orders", json={"symbol": SYMBOL, "side": "buy", "quantity": str(qty),
                                                   "type": "twap", "params": {"duration_s": 10, "slices": 5}})
        assert resp.status_code == 201, resp.text
        order_id = resp.json()["order_id"]
        p = await app.cache.get(order_id)
        assert p is not None
        await work(app, clock, p, step_s=0.5)
        assert p.state is ParentState.FILLED, p.state
        order = (await http.get(f"/v1/orders/{order_id}")).json()
        t = (await http.get(f"/v1/orders/{order_id}/tca")).json()
        fills = [f for sid in order["algo"]["slices"]
                 for f in (await http.get(f"/v1/orders/{sid}")).json()["fills"]]
        svg = await http.get(f"/v1/orders/{order_id}/tca.svg")
        first = order["algo"]["slices"][0]  # a slice is a market order of its own, with its own route
        s_order = (await http.get(f"/v1/orders/{first}")).json()
        s_tca = (await http.get(f"/v1/orders/{first}/tca")).json()
        missing = await http.get("/v1/orders/no-such-order/tca.svg")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "ORDER_NOT_FOUND"
        paths = (await http.get("/openapi.json")).json()["paths"]
        assert "image/svg+xml" in str(paths["/v1/orders/{order_id}/tca.svg"])
    prog = p.decision["algo"]["progress"]

    filled = sum((D(f["quantity"]) for f in fills), D(0))
    notional = sum((D(f["price"]) * D(f["quantity"]) for f in fills), D(0))
    fees = sum((quote_fee(f) for f in fills), D(0))
    avg = notional / filled
    assert filled == qty and D(t["filled"]) == qty and D(t["notional"]) == notional and D(t["fees"]) == fees
    for venue in {f["venue"] for f in fills}:
        assert D(t["venues"][venue]["qty"]) == sum((D(f["quantity"]) for f in fills if f["venue"] == venue), D(0))

    m0 = D(order["routing"]["arrival_mid"])
    assert t["arrival_mid"] == order["routing"]["arrival_mid"]
    assert t["arrival_slippage_bps"] == bps((avg - m0) / m0)

    sh = t["implementation_shortfall"]  # all filled: the shortfall is the execution cost, fees in
    execution = notional - m0 * filled + fees
    assert D(sh["execution_cost"]) == execution and D(sh["opportunity_cost"]) == 0
    assert D(sh["total"]) == execution and sh["total_bps"] == bps(execution / (m0 * qty))

    assert seen["volume"] > 0 and (seen["volume"], seen["notional"]) == (D(prog["volume"]), D(prog["notional"]))
    vwap = seen["notional"] / seen["volume"]
    assert D(t["interval_vwap"]["vwap"]) == vwap
    assert t["interval_vwap"]["slippage_bps"] == bps((avg - vwap) / vwap)

    # Adherence: the plan's cumulative target at each decision against what had filled (by the
    # fills' booking times) before the next one.
    plan = prog["plan"]
    assert len(plan) >= 5 and [pt["n"] for pt in t["schedule"]["points"]] == [d["n"] for d in plan]
    deviations = []
    for k, (d, pt) in enumerate(zip(plan, t["schedule"]["points"], strict=True)):
        until = plan[k + 1]["at_ns"] if k + 1 < len(plan) else None
        executed = sum((D(f["quantity"]) for f in fills if until is None or f["booked_ns"] < until), D(0))
        assert (D(pt["planned_cum"]), D(pt["executed_cum"])) == (D(d["target_cum"]), executed), (k, pt)
        deviations.append(executed - D(d["target_cum"]))
    assert D(t["schedule"]["max_deviation"]) == max(deviations, key=abs)

    # Effective spread: each fill against the latest mid recorded at or before it.
    samples = sorted({**{int(ts): D(m) for ts, m in prog["mids"]},
                      **{d["at_ns"]: D(d["mid"]) for d in plan if d["mid"]}, p.decision["decided_ns"]: m0}.items())
    weighted = D(0)
    for f in fills:
        mid = [m for ts, m in samples if ts <= f["booked_ns"]][-1]
        weighted += D(f["quantity"]) * 2 * (D(f["price"]) - mid) / mid
    assert t["effective_spread"]["bps"] == bps(weighted / filled)

    # The slice against its own decision: its arrival mid measures both slippage and spread.
    s_fills, s_mid = s_order["fills"], D(s_order["routing"]["arrival_mid"])
    s_filled = sum((D(f["quantity"]) for f in s_fills), D(0))
    s_notional = sum((D(f["price"]) * D(f["quantity"]) for f in s_fills), D(0))
    s_avg = s_notional / s_filled
    assert s_tca["type"] == "market" and s_tca["arrival_slippage_bps"] == bps((s_avg - s_mid) / s_mid)
    assert s_tca["effective_spread"]["bps"] == bps(sum((D(f["quantity"]) * 2 * (D(f["price"]) - s_mid) / s_mid
                                                         for f in s_fills), D(0)) / s_filled)
    s_routed = s_notional + sum((quote_fee(f) for f in s_fills), D(0))
    assert D(s_tca["routed_cost"]) == s_routed
    best = s_order["routing"]["best_single_venue"]
    if best is not None:  # the slice's fills against sweeping them through that venue alone
        single = s_order["routing"]["single_venue"][best]
        cost = D(single["avg_price"]) * s_filled * (1 + D(single["fee_rate"]))
        assert (s_tca["single_venue"]["venue"], D(s_tca["single_venue"]["saving"])) == (best, cost - s_routed)

    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    ids = {el.get("id") for el in ET.fromstring(svg.content).iter()}
    assert {f"fills-{v}" for v in t["venues"]} | {"mid", "planned", "executed"} <= ids

    # The CLI (a process of its own: this loop serves the API meanwhile).
    plot = tmp_path / "twap.svg"
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "seqmesh"), "tca", order_id, "--api", f"http://127.0.0.1:{app.port}",
        "--plot", str(plot), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await asyncio.wait_for(proc.communicate(), 120))[0].decode()
    assert proc.returncode == 0, out
    assert re.search(rf"^implementation shortfall -?[\d,.]+ USDT \({re.escape(sh['total_bps'])} bps\)", out, re.M), out
    assert "schedule adherence: largest deviation" in out and f"chart written to {plot}" in out, out
    assert {f"fills-{v}" for v in t["venues"]} <= {el.get("id") for el in ET.parse(plot).iter()}
