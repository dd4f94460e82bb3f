"""REST submit to fill acknowledgement on loopback, zero simulated venue latency.

A real region (three simulators, their edges, a CC) is started; market orders of 0.001 BTC
alternate buy/sell one at a time. Per order: POST /v1/orders until its response (the CC has
routed, written the ledger, and the edge has the venue's answer), and until the fill is
booked in the CC's ledger (the response carries it; polled otherwise). Baseline in the same
run: the same market order sent straight to a simulator with ccxt (the venue round trip
alone). Then again with `--durability process-crash` on the CC and edges (no fsync per
commit). Goal: submit -> fill p50 <= 3 ms.

The client is the standard library's keep-alive `http.client`, so that what is measured is
the region: httpx costs several tenths of a millisecond per request of its own here. The
same orders through httpx (`seqmesh.client.api.CCClient`) are reported beside it, as is
`GET /healthz` with each client (the HTTP round trip alone).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.runtime.edge.exchange import make_exchange

from seqmesh.client.api import CCClient
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 3)


async def venue_baseline(url: str, n: int) -> list[float]:
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    await ex.load_markets()
    out = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            await ex.create_order("BTC/USDT", "market", "buy" if i % 2 else "sell", "0.001")
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        await ex.close()
    return out


HEADERS = {"Authorization": "Bearer seqmesh-dev-key", "Content-Type": "application/json"}


class LeanClient:
    """Keep-alive HTTP/1.1 with the standard library: next to no client-side cost."""

    def __init__(self, api: str) -> None:
        host, _, port = api.removeprefix("http://").partition(":")
        self.conn = http.client.HTTPConnection(host, int(port))

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> Any:
        payload = None if body is None else json.dumps(body)
        try:
            self.conn.request(method, path, body=payload, headers=HEADERS)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed a keep-alive connection left idle past its timeout (a slow start
            # on a loaded machine) before reading this request: send it again on a new one.
            self.conn.close()
            self.conn.request(method, path, body=payload, headers=HEADERS)
            resp = self.conn.getresponse()
        out = json.loads(resp.read())
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {out}")
        return out

    def submit(self, symbol: str, side: str, quantity: str) -> Any:
        return self.request("POST", "/v1/orders", {"symbol": symbol, "side": side, "quantity": quantity})

    def order(self, order_id: str) -> Any:
        return self.request("GET", f"/v1/orders/{order_id}")


def timed(client: Any, n: int) -> tuple[list[float], list[float]]:
    """n market orders one at a time: (submit -> response, submit -> fill booked) in ms."""
    response_ms, fill_ms = [], []
    for i in range(n):
        t0 = time.perf_counter()
        o = client.submit("BTC/USDT", "buy" if i % 2 else "sell", "0.001")
        response_ms.append((time.perf_counter() - t0) * 1000)
        while o["state"] != "filled":  # the response usually carries the booked fill already
            o = client.order(o["order_id"])
        fill_ms.append((time.perf_counter() - t0) * 1000)
    return response_ms, fill_ms


def healthz_ms(client: Any, n: int = 200) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.request("GET", "/healthz")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def measure(region: Region, n: int) -> dict[str, list[float]]:
    with CCClient(region.api) as c:
        wait_until(lambda: sum(not b["stale"] for b in c.bbo("BTC/USDT")) == 3, 30, what="live venues")
        lean = LeanClient(region.api)
        response_ms, fill_ms = timed(lean, n)
        _, httpx_fill_ms = timed(c, n // 2)
        return {"response": response_ms, "fill": fill_ms, "httpx_fill": httpx_fill_ms,
                "healthz": healthz_ms(lean), "httpx_healthz": healthz_ms(c)}


def run(n: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        region = Region(Path(tmp) / "full")
        try:
            full = measure(region, n)
            baseline = asyncio.run(venue_baseline(next(iter(region.sims.values()))[1], n))
        finally:
            region.stop()
        # The same with commits that survive kill -9 but not a power cut (no fsync per commit).
        args = ("--durability", "process-crash")
        region = Region(Path(tmp) / "process-crash", cc_args=args, edge_args=args)
        try:
            lax = measure(region, n)
        finally:
            region.stop()

    def p(xs: list[float]) -> dict[str, float]:
        return {"p50": pct(xs, 50), "p99": pct(xs, 99)}

    return {
        "orders": n,
        "submit_to_response_ms": p(full["response"]),
        "submit_to_fill_booked_ms": p(full["fill"]),
        "submit_to_fill_booked_durability_process_crash_ms": p(lax["fill"]),
        "submit_to_fill_booked_httpx_client_ms": p(full["httpx_fill"]),
        "baseline_ccxt_direct_to_venue_ms": p(baseline),
        "baseline_healthz_round_trip_ms": p(full["healthz"]),
        "baseline_healthz_round_trip_httpx_ms": p(full["httpx_healthz"]),
        "ratio_fill_p50_vs_direct_venue": round(statistics.median(full["fill"]) / statistics.median(baseline), 2),
        "goal_fill_p50_ms": 3,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
