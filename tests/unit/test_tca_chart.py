"""The chart of an execution: SVG that parses, with a series per venue, the mid and, for a
TWAP, the planned and executed quantity; matplotlib loaded only when a chart is drawn."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal

from seqmesh.runtime.cc.domain import OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.tca import chart

from .test_tca_report import F1, F2, F3, F4, MS, SLICES, T0, S, fill, route, twap

SVG = "{http://www.w3.org/2000/svg}"


def test_the_chart_is_svg_with_each_venue_the_mid_and_the_schedule() -> None:
    body = chart.svg(twap([F1, F2, F3, F4]), SLICES)
    root = ET.fromstring(body)
    assert root.tag == f"{SVG}svg"
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert {"fills-binance", "fills-okx", "mid", "arrival-mid", "planned", "executed"} <= ids
    # one point per fill in each venue's series
    binance = next(el for el in root.iter() if el.get("id") == "fills-binance")
    assert len([el for el in binance if el.tag == f"{SVG}path"]) == 2
    text = "".join(el.text or "" for el in root.iter(f"{SVG}text"))
    assert "fills binance" in text and "planned (cumulative)" in text
    # The same order draws the same chart: the same series and words. (Not byte for byte, nor
    # matplotlib's own clip-path ids, which hash coordinates: in a long test process a second
    # drawing's layout moved by a fraction of a point.)
    again = ET.fromstring(chart.svg(twap([F1, F2, F3, F4]), SLICES))
    series = {"fills-binance", "fills-okx", "mid", "arrival-mid", "planned", "executed"}
    assert series & {el.get("id") for el in again.iter()} == series
    assert "".join(el.text or "" for el in again.iter(f"{SVG}text")) == text


def test_neither_the_api_nor_the_cli_imports_matplotlib_until_a_chart_is_drawn() -> None:
    code = ("import sys, seqmesh.runtime.cc.api.rest, seqmesh.client.cli, seqmesh.cli; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_market_order_s_chart_has_its_fills_and_decision_mid_and_no_schedule() -> None:
    p = Parent("m1", "dev", "", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("1"), None, ParentState.FILLED, T0,
               T0, decision={"decided_ns": T0, "route": route("100")},
               fills=[fill(1, "m1", "kraken", "100.1", "1", T0 + 3 * MS)])
    ids = {el.get("id") for el in ET.fromstring(chart.svg(p)).iter()}
    assert {"fills-kraken", "arrival-mid", "mid"} <= ids and not {"planned", "executed"} & ids


def test_many_fills_are_drawn_per_time_bucket_with_their_quantity_and_vwap() -> None:
    fills = [fill(i, "s", "okx", str(100 + i % 2), "0.5", T0 + i * S // 10) for i in range(chart.MAX_POINTS + 1)]
    drawn = chart.points(fills, T0)["okx"]
    assert len(drawn) <= chart.BUCKETS and sum(q for _, _, q in drawn) == sum(f.qty for f in fills)
    # each bucket's price is its fills' VWAP: here between the two prices traded
    assert all(100 <= price <= 101 for _, price, _ in drawn)
    body = chart.svg(twap(fills))
    okx = [el for el in ET.fromstring(body).iter() if el.get("id") == "fills-okx"]
    assert len(list(okx[0])) == len(drawn)
