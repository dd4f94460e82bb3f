"""Peer-mesh figures with injected WAN latency (Toxiproxy), minus the injected delay.

1. Mirroring delay: edge receipt in the venue's region -> processing at the remote CC
   (`peer_recv_ts - edge_recv_ts - one-way link delay`), sampled from the remote CC's BBO;
   baseline in the same run: edge receipt -> local CC processing in the home region.
2. Cross-region order overhead: REST submit at na -> fill booked at na for an order the SOR
   sends to eu's venue, minus the injected round trip; baseline: the same order routed locally.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.client.api import CCClient
from seqmesh.testing.mesh import Mesh
from seqmesh.testing.processes import wait_until
from seqmesh.testing.toxiproxy import Toxiproxy

ONE_WAY_MS = 30


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 3)


def fill_ms(c: CCClient, body: dict[str, str]) -> float:
    t0 = time.perf_counter()
    o = c.submit(**body)
    while o["state"] != "filled":
        o = c.order(o["order_id"])
    return (time.perf_counter() - t0) * 1000


def run(samples: int = 300, orders: int = 40) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        toxi = Toxiproxy(Path(tmp))
        via = toxi.router(lambda _a, _b: ONE_WAY_MS)

        # na's venue is 30 bp dearer: the SOR sends na's orders to eu's kraken when it can.
        venues = {"na": {"coinbase": ("30", "0.001", "0.001")}, "eu": {"kraken": ("0", "0.001", "0.001")}}
        mesh = Mesh(Path(tmp), venues, probe_s=1.0, route=via)
        try:
            na, eu = mesh.regions["na"], mesh.regions["eu"]
            with CCClient(na.api) as c, CCClient(eu.api) as e:
                wait_until(lambda: len([b for b in c.bbo("BTC/USDT") if not b["stale"]]) == 2, 60, what="mesh up")
                wait_until(lambda: all(p["rtt_ms"] for p in c.request("GET", "/v1/peers")), 30, what="rtt")
                mirror, local, seen = [], [], set()
                deadline = time.monotonic() + 60
                while len(mirror) < samples and time.monotonic() < deadline:
                    for row in c.bbo("BTC/USDT"):
                        ts = row["ts"]
                        if row["venue"] == "kraken" and (key := ts["edge_recv_ts"]) not in seen:
                            seen.add(key)
                            mirror.append((ts["peer_recv_ts"] - ts["edge_recv_ts"]) / 1e6 - ONE_WAY_MS)
                    for row in e.bbo("BTC/USDT"):
                        if row["venue"] == "kraken":
                            local.append((row["ts"]["cc_proc_ts"] - row["ts"]["edge_recv_ts"]) / 1e6)
                    time.sleep(0.02)
                rtt = min(p["rtt_ms"] for p in c.request("GET", "/v1/peers"))
                # Buys: na's asks are the dear ones, so each of these goes to eu's venue.
                remote = [fill_ms(c, {"symbol": "ETH/USDT", "side": "buy", "quantity": "0.01"}) for _ in range(orders)]
                local_orders = [fill_ms(e, {"symbol": "ETH/USDT", "side": "buy", "quantity": "0.01"})
                                for _ in range(orders)]
                abroad = sum(1 for o in c.orders(limit=orders)
                             if {ch["venue"] for ch in c.order(o["order_id"])["children"]} == {"kraken"})
        finally:
            mesh.stop()
            toxi.stop()
    injected_rtt = 2 * ONE_WAY_MS
    return {
        "injected_one_way_ms": ONE_WAY_MS, "measured_peer_rtt_ms": round(rtt, 2),
        "mirroring_delay_minus_link_ms": {"p50": pct(mirror, 50), "p99": pct(mirror, 99), "samples": len(mirror)},
        "baseline_edge_to_local_cc_ms": {"p50": pct(local, 50), "p99": pct(local, 99)},
        "cross_region_order_fill_ms": {"p50": pct(remote, 50), "p99": pct(remote, 99)},
        "cross_region_overhead_beyond_link_ms": round(statistics.median(remote) - injected_rtt, 3),
        "baseline_local_order_fill_ms": {"p50": pct(local_orders, 50)},
        "orders_routed_abroad": abroad,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
