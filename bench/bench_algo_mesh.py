"""Algo mesh message latency, edge -> CC -> edge in one region (goal p50 <= 300 us): two instances
of one algo (seqmesh.testing.guests.pinger), each sending a small message every 2 ms; the receiving edge measures
from the sender's host timestamp. Baseline in the same run: the CC's unary gRPC round trip to
its edges (what one hop costs on this machine)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.client.api import CCClient
from seqmesh.testing.guests import pinger
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

VENUES = {"binance": ("0", "0.0008", "0.001"), "okx": ("0", "0.0010", "0.0011")}


def run(seconds: float = 6.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        region = Region(Path(tmp), VENUES)
        try:
            with CCClient(region.api) as c:
                wait_until(lambda: all(e["connected"] for e in c.edges()), 30, what="edges")
                c.deploy_algo("chatter", pinger(2), "BTC/USDT", list(VENUES), start=True)
                wait_until(lambda: all(e["received"] > 100 for e in c.algo("chatter")["edges"]), 30, what="traffic")
                rtts = []
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    rtts += [e["latency_ms"] * 1000 for e in c.edges() if e.get("latency_ms")]
                    time.sleep(0.5)
                edges = c.algo("chatter")["edges"]
        finally:
            region.stop()
    p50 = statistics.median(e["message_latency_us"]["p50"] for e in edges)
    p99 = max(e["message_latency_us"]["p99"] for e in edges)
    rtt = statistics.median(rtts) if rtts else 0.0
    return {
        "message_latency_p50_us": round(p50, 1), "message_latency_p99_us": round(p99, 1),
        "messages_received": sum(e["received"] for e in edges),
        "baseline_cc_edge_grpc_rtt_p50_us": round(rtt, 1),
        "ratio_vs_one_rtt": round(p50 / rtt, 2) if rtt else None,
        "goal_p50_us": 300,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
