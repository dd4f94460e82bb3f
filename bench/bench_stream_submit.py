"""Order entry over the WebSocket stream beside REST submit, in the same run on the same CC.

A real region (three simulators, their edges, a CC); market orders of 0.001 BTC alternate
buy/sell, one at a time, REST and stream taking turns so both see the same market and load.
Per order: send until its answer (REST: the 201 response; stream: the `ack` message), both
the order's full view (children, fills booked so far, routing) from the same code path
(api/placing.py). The REST client is bench_order_latency's keep-alive `http.client` (next to
no client-side cost); the stream client is websockets' blocking client. Baselines: the round
trip of `GET /healthz` and of a stream `ping`, each transport alone.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.client.api import CCClient
from seqmesh.client.stream import StreamClient
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_order_latency import LeanClient, pct


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def measure(region: Region, n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"rest": [], "stream": [], "healthz": [], "ping": []}
    with CCClient(region.api) as c, StreamClient(region.api) as s:
        wait_until(lambda: sum(not b["stale"] for b in c.bbo("BTC/USDT")) == 3, 30, what="live venues")
        rest = LeanClient(region.api)
        for i in range(n):
            side = "buy" if i % 2 else "sell"
            t0 = time.perf_counter()
            o = rest.submit("BTC/USDT", side, "0.001")
            out["rest"].append(_ms(t0))
            t0 = time.perf_counter()
            ack = s.submit({"symbol": "BTC/USDT", "side": side, "quantity": "0.001"})
            out["stream"].append(_ms(t0))
            if ack["type"] != "ack" or o["state"] == "rejected":
                raise RuntimeError(f"order {i} refused: {ack} / {o['state']}")
        for i in range(n):
            t0 = time.perf_counter()
            rest.request("GET", "/healthz")
            out["healthz"].append(_ms(t0))
            t0 = time.perf_counter()
            s.send("ping", id=i)
            s.until(lambda m, i=i: m["type"] == "pong" and m["id"] == i, 30)
            out["ping"].append(_ms(t0))
    return out


def run(n: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        region = Region(Path(tmp))
        try:
            got = measure(region, n)
        finally:
            region.stop()

    def p(xs: list[float]) -> dict[str, float]:
        return {"p50": pct(xs, 50), "p99": pct(xs, 99)}

    return {
        "orders_each": n,
        "rest_submit_to_response_ms": p(got["rest"]),
        "stream_submit_to_ack_ms": p(got["stream"]),
        "ratio_stream_vs_rest_p50": round(statistics.median(got["stream"]) / statistics.median(got["rest"]), 2),
        "baseline_healthz_round_trip_ms": p(got["healthz"]),
        "baseline_stream_ping_round_trip_ms": p(got["ping"]),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
