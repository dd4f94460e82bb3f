"""The terminal's TCA report of an execution algorithm: every figure on a line of its own."""

from __future__ import annotations

from decimal import Decimal

import orjson
from seqmesh.runtime.cc.tca import report

from seqmesh.client.tables import tca_table

from .test_tca_report import SLICES, twap


def test_an_algorithm_s_report_reads_as_tables_and_sentences() -> None:
    t = orjson.loads(orjson.dumps(report(twap([]), SLICES, Decimal("150"))))  # as the API sends it
    text = tca_table(t)
    lines = text.splitlines()
    assert lines[0] == "order a1  buy 0.9 BTC/USDT  state expired  (twap)"
    assert "binance         56.25%      2            26.5781" in lines
    assert "arrival mid 100.0000 (bid 99.9900 / ask 100.0100)   slippage 61.8750 bps" in lines
    assert (f"implementation shortfall 0.7000 USDT ({t['implementation_shortfall']['total_bps']} bps): execution "
            "0.5800 (64.4456 bps, fees 0.0850 included), opportunity 0.1200 on 0.10 unfilled at mid 101.2000") in lines
    assert "interval VWAP 100.5000 over a market volume of 10 (this order 8.00% of it): slippage 11.8159 bps" in lines
    assert any(line.startswith("effective spread 23.6261 bps (quantity-weighted over 4 fills)") for line in lines)
    assert any(line.startswith("each slice's best single venue (binance, kraken, 2 slices): would have cost")
               for line in lines)
    assert "schedule adherence: largest deviation -0.10 BTC (-11.1111% of the order), mean |deviation| 5.5556%" in lines
    assert lines[-1].split() == ["2", "20.0", "0.35", "0.9", "0.80", "-0.10"]
