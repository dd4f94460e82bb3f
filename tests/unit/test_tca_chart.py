"""The chart of an execution: SVG that parses, with a series per venue, the mid and, for a
TWAP, the planned and executed quantity; matplotlib loaded only when a chart is drawn."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

from seqmesh.runtime.cc.tca import chart

from .test_tca_report import F1, F2, F3, F4, SLICES, twap

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
    assert chart.svg(twap([F1, F2, F3, F4]), SLICES) == body  # the same order draws the same chart


def test_neither_the_api_nor_the_cli_imports_matplotlib_until_a_chart_is_drawn() -> None:
    code = ("import sys, seqmesh.runtime.cc.api.rest, seqmesh.client.cli, seqmesh.cli; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
