"""Orders per second one CC sustains, with nothing lost.

A real region (three simulators, edges, one CC). Async clients submit market orders of 0.001
(alternating sides, spread over two symbols), each with a client order id, and wait for each
answer before the next. Sustained throughput is measured at saturation. A short sweep over
client counts (16, 32, 64) finds where the rate stops rising, reporting each level's rate and
its submit-to-answer latency. Fewer clients leave the region waiting on round trips with idle
cores. Then the full run (`duration` seconds, default 60) uses the best level.

Afterwards every accepted order, sweep included, must reach a final state with its fills booked
exactly once, and the CC's positions must equal the sum of the fills. Baseline in the same run:
the CC's `/healthz` round trip rate with the same concurrency (the HTTP stack's ceiling on this
machine). Goal: >= 500 orders/s for 60 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from seqmesh.client.api import CCClient
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

HEADERS = {"Authorization": "Bearer seqmesh-dev-key"}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_by_role(region: Region) -> dict[str, float]:
    return {"cc": cpu_s(region.cc.popen.pid),
            "edges": sum(cpu_s(p.popen.pid) for p, _ in region.edges.values()),
            "simulators": sum(cpu_s(p.popen.pid) for p, _ in region.sims.values()),
            "load_generator": time.process_time()}
FINAL = {"filled", "canceled", "expired", "rejected"}


async def flood(api: str, duration: float, concurrency: int, tag: str = "t") -> tuple[list[str], int, list[float]]:
    """The load generator: aiohttp with keep-alive (a third of httpx's CPU per request), so the
    region under test, not the harness, gets this machine's cores. Returns the accepted order
    ids, the errors and each answer's round trip (s)."""
    accepted: list[str] = []
    errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + duration

    async def worker(http: aiohttp.ClientSession, w: int) -> None:
        nonlocal errors
        i = 0
        while time.monotonic() < deadline:
            symbol = "BTC/USDT" if (w + i) % 2 else "ETH/USDT"
            body = {"symbol": symbol, "side": "buy" if i % 2 else "sell",
                    "quantity": "0.001" if symbol == "BTC/USDT" else "0.01", "client_order_id": f"{tag}{w}-{i}"}
            t0 = time.perf_counter()
            async with http.post("/v1/orders", json=body) as resp:
                if resp.status in (200, 201):
                    accepted.append((await resp.json())["order_id"])
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1
            i += 1

    async with aiohttp.ClientSession(base_url=api, headers=HEADERS,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await asyncio.gather(*(worker(http, w) for w in range(concurrency)))
    return accepted, errors, latencies


def _ms(latencies: list[float], q: float) -> float:
    return round(sorted(latencies)[int(len(latencies) * q)] * 1000, 1) if latencies else 0.0


async def healthz_rate(api: str, seconds: float, concurrency: int) -> float:
    count = 0
    deadline = time.monotonic() + seconds

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal count
        while time.monotonic() < deadline:
            async with http.get("/healthz") as resp:
                await resp.read()
            count += 1

    async with aiohttp.ClientSession(base_url=api, headers=HEADERS,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return count / seconds


def run(duration: float | None = None, levels: tuple[int, ...] = (16, 32, 64), sweep_s: float = 8.0) -> dict[str, Any]:
    duration = duration or float(os.environ.get("SEQMESH_BENCH_SECONDS", "60"))
    with tempfile.TemporaryDirectory() as tmp:
        region = Region(Path(tmp), cc_args=("--max-orders-per-s", "100000", "--order-burst", "100000"))
        try:
            with CCClient(region.api, timeout=60) as c:
                wait_until(lambda: sum(not b["stale"] for b in c.bbo("BTC/USDT")) == 3, 30, what="live venues")
                sweep, submitted = [], []
                for level in levels:
                    t0 = time.monotonic()
                    ids, _, lat = asyncio.run(flood(region.api, sweep_s, level, tag=f"s{level}-"))
                    submitted += ids
                    sweep.append({"concurrency": level, "orders_per_s": round(len(ids) / (time.monotonic() - t0), 1),
                                  "latency_p50_ms": _ms(lat, 0.5), "latency_p99_ms": _ms(lat, 0.99)})
                concurrency = max(sweep, key=lambda r: r["orders_per_s"])["concurrency"]
                t0, cpu0 = time.monotonic(), cpu_by_role(region)
                accepted, errors, latencies = asyncio.run(flood(region.api, duration, concurrency))
                elapsed = time.monotonic() - t0
                submitted += accepted
                cpu = {k: v - cpu0[k] for k, v in cpu_by_role(region).items()}
                base = asyncio.run(healthz_rate(region.api, 5, concurrency))
                # Nothing lost: every accepted order final, fills exactly once, positions = fills.
                wait_until(lambda: all(o["state"] in FINAL for o in c.orders(limit=1_000_000)), 120,
                           interval=0.5, what="every order final")
                orders = c.orders(limit=1_000_000)
                sample = [c.order(o["order_id"]) for o in orders[-200:]]
                fill_ids = [f["fill_id"] for o in sample for f in o["fills"]]
                positions = {p["symbol"]: Decimal(p["qty"]) for p in c.positions()}
                net: dict[str, Decimal] = {}
                for o in orders:
                    net[o["symbol"]] = net.get(o["symbol"], Decimal(0)) + Decimal(o["filled"]) * (
                        1 if o["side"] == "buy" else -1)
                states = [o["state"] for o in orders]
                lost = sorted(set(submitted) - {o["order_id"] for o in orders})
        finally:
            region.stop()
    return {
        "sweep": sweep,
        "duration_s": round(elapsed, 1), "concurrency": concurrency,
        "orders_accepted": len(accepted), "errors": errors,
        "orders_per_s": round(len(accepted) / elapsed, 1),
        "latency_p50_ms": _ms(latencies, 0.5), "latency_p99_ms": _ms(latencies, 0.99),
        "baseline_healthz_per_s": round(base, 1),
        "ratio_vs_healthz": round(len(accepted) / elapsed / base, 3),
        # Where the machine's cores went: CPU per accepted order, by process role.
        "cpu_ms_per_order": {k: round(v * 1000 / max(len(accepted), 1), 3) for k, v in cpu.items()},
        "cpu_cores_busy": round(sum(cpu.values()) / elapsed, 2),
        # Derived, not sustained: the rate the CC's own CPU per order would allow on a core of its
        # own (on this machine the edges, simulators and load generator share its cores).
        "cc_orders_per_s_per_core_derived": round(len(accepted) / cpu["cc"]) if cpu["cc"] else None,
        "all_final": all(s in FINAL for s in states), "filled": states.count("filled"),
        "sampled_fills_unique": len(fill_ids) == len(set(fill_ids)),
        "orders_lost": len(lost),
        "positions_equal_sum_of_fills": all(positions.get(s, Decimal(0)) == q for s, q in net.items()),
        "goal_orders_per_s": 500,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
