"""Soak: each process's resident memory over a long run stays flat, not growing with the orders
a region has handled.

A real region (three simulators, their edges, one CC, all processes). Async clients push
`orders` (default 50,000) through the CC's REST API, with a client order id each: half market
orders (alternating sides, over BTC/USDT and ETH/USDT), half limit orders far from the market
(20% through the mid on the passive side, so they rest) each cancelled once accepted. Meanwhile
a WebAssembly algo on every edge cancels and replaces a resting bid on every 8th book update (its
orders all end cancelled: the edge's algo bookkeeping, a few orders a second per edge).

Every `sample_every` orders the VmRSS of each process (/proc/PID/status) is read. Reported: the
RSS at each 10,000 orders per process, and the slope (MB per 10,000 orders, least squares over
the samples after the first `warmup` orders) beside that process's RSS at the end of warm-up
(growth as a fraction of it: machines differ in absolute sizes, not in what a leak looks like).
Afterwards nothing may be lost: every accepted order final in the CC, its cancels answered.

    .venv/bin/python bench/bench_soak.py [--orders 50000] [--sample-every 1000] [--concurrency 16] [--profile]

With `--profile` every process answers SIGUSR2 (a `sitecustomize` on its PYTHONPATH): at the end
of warm-up it counts its live objects by type and starts tracemalloc, at the end it counts again
and lists where the memory allocated since warm-up and still held was allocated. Reported per
process: the types whose count grew most, and the top allocation sites.

Runtime: 50,000 orders took 26 minutes on the 2-core development VM while other work loaded it
(load average 15-25, 32 orders/s, each limit order a submit and a cancel); `--orders` (or
SEQMESH_SOAK_ORDERS for `bench/run.py soak`) sets fewer.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from seqmesh.client.api import CCClient
from seqmesh.testing.guests import rester
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

HEADERS = {"Authorization": "Bearer seqmesh-dev-key"}
FINAL = {"filled", "canceled", "expired", "rejected"}
SYMBOLS = {"BTC/USDT": "0.001", "ETH/USDT": "0.01"}  # symbol -> order quantity
ALGO = "soak-rest"
ALGO_EVERY = 8  # the algo acts on every 8th book update (each one costs the edge a cancel and a place)


#: Loaded by every child process when profiling (PYTHONPATH): SIGUSR2 writes a probe file.
PROBE = """
import gc, json, os, signal, tracemalloc
from collections import Counter


def _probe(signum, frame):
    gc.collect()
    types = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
    traced = []
    if tracemalloc.is_tracing():
        stats = tracemalloc.take_snapshot().statistics("lineno")
        traced = [[str(s.traceback), s.size, s.count] for s in stats[:15]]
    else:
        tracemalloc.start(1)  # from here on: what is allocated and still held at the next probe
    path = os.path.join(os.environ["SEQMESH_SOAK_PROBE"], f"{os.getpid()}-{_probe.n}.json")
    _probe.n += 1
    with open(path + ".tmp", "w") as f:
        json.dump({"types": types, "traced": traced}, f)
    os.replace(path + ".tmp", path)


_probe.n = 0
if os.environ.get("SEQMESH_SOAK_PROBE"):
    signal.signal(signal.SIGUSR2, _probe)
"""


class Profiler:
    """Probes of the region's processes through PROBE (set up before they start)."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "probes"
        site = tmp / "site"
        self.dir.mkdir()
        site.mkdir()
        (site / "sitecustomize.py").write_text(PROBE)
        os.environ["SEQMESH_SOAK_PROBE"] = str(self.dir)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
        self.rounds = 0

    def probe(self, pids: dict[str, int]) -> None:
        for pid in pids.values():
            os.kill(pid, signal.SIGUSR2)
        n = self.rounds
        self.rounds += 1
        wait_until(lambda: all((self.dir / f"{pid}-{n}.json").exists() for pid in pids.values()), 120,
                   interval=0.2, what="every process's probe")

    def report(self, pids: dict[str, int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, pid in pids.items():
            first, last = (json.loads((self.dir / f"{pid}-{n}.json").read_text()) for n in (0, self.rounds - 1))
            grown = Counter(last["types"])
            grown.subtract(first["types"])
            out[name] = {"types_grown": dict(grown.most_common(12)),
                         "held_since_warmup": [{"where": w, "kb": round(size / 1024, 1), "blocks": count}
                                               for w, size, count in last["traced"][:8]]}
        return out


def rss_kb(pid: int) -> int:
    """Resident set size of a process (kB), as the kernel counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def processes(region: Region) -> dict[str, int]:
    pids = {"cc": region.cc.popen.pid}
    pids |= {f"edge-{v}": p.popen.pid for v, (p, _) in region.edges.items()}
    pids |= {f"sim-{v}": p.popen.pid for v, (p, _) in region.sims.items()}
    return pids


class Load:
    """The load generator: `total` orders from `concurrency` workers; calls `sample(done)` each
    time the count of answered orders crosses a multiple of `every`."""

    def __init__(self, api: str, total: int, concurrency: int, every: int, mids: dict[str, Decimal],
                 sample: Callable[[int], None]) -> None:
        self.api, self.total, self.concurrency, self.every = api, total, concurrency, every
        self.mids = mids
        self.sample = sample
        self.accepted: list[str] = []
        self.errors: list[str] = []
        self.cancels = 0
        self.cancel_errors: list[str] = []
        self.done = 0
        self._next = itertools.count()

    def body(self, i: int) -> dict[str, Any]:
        symbol = "BTC/USDT" if i % 3 else "ETH/USDT"
        side = "buy" if (i // 2) % 2 else "sell"
        body: dict[str, Any] = {"symbol": symbol, "side": side, "quantity": SYMBOLS[symbol],
                                "client_order_id": f"soak-{i}"}
        if i % 2:  # a limit order 20% through the mid on the passive side: it rests until cancelled
            body["type"] = "limit"
            body["price"] = str((self.mids[symbol] * Decimal("0.8" if side == "buy" else "1.2")).quantize(
                Decimal("0.01")))
        return body

    async def worker(self, http: aiohttp.ClientSession) -> None:
        while (i := next(self._next)) < self.total:
            body = self.body(i)
            async with http.post("/v1/orders", json=body) as resp:
                answer = await resp.json()
                if resp.status not in (200, 201):
                    self.errors.append(f"{resp.status} {answer}")
                else:
                    self.accepted.append(answer["order_id"])
                    if body.get("type") == "limit":
                        async with http.delete(f"/v1/orders/{answer['order_id']}") as cancel:
                            if cancel.status in (200, 202):
                                self.cancels += 1
                            else:
                                self.cancel_errors.append(f"{cancel.status} {await cancel.text()}")
            self.done += 1
            if self.done % self.every == 0:
                self.sample(self.done)

    async def run(self) -> None:
        async with aiohttp.ClientSession(base_url=self.api, headers=HEADERS,
                                         connector=aiohttp.TCPConnector(limit=self.concurrency)) as http:
            await asyncio.gather(*(self.worker(http) for _ in range(self.concurrency)))


def slope_mb_per_10k(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS (kB) over orders, as MB per 10,000 orders."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return round(sxy / sxx * 10_000 / 1024, 2) if sxx else 0.0


def run(orders: int | None = None, sample_every: int = 1_000, concurrency: int = 16,
        warmup: int | None = None, profile: bool = False) -> dict[str, Any]:
    orders = orders or int(os.environ.get("SEQMESH_SOAK_ORDERS", "50000"))  # bench/run.py passes none
    warmup = warmup if warmup is not None else min(10_000, orders // 5)
    samples: list[tuple[int, dict[str, int]]] = []
    saved_env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        profiler = Profiler(Path(tmp)) if profile else None

        def sample(done: int) -> None:
            samples.append((done, {n: rss_kb(p) for n, p in pids.items()}))
            if profiler is not None and done == warmup:
                profiler.probe(pids)

        region = Region(Path(tmp), cc_args=("--max-orders-per-s", "100000", "--order-burst", "100000"))
        try:
            pids = processes(region)
            with CCClient(region.api, timeout=120) as c:
                for symbol in SYMBOLS:
                    wait_until(lambda s=symbol: sum(not b["stale"] for b in c.bbo(s)) == 3, 30,  # type: ignore[misc]
                               what=f"live venues for {symbol}")
                mids = {s: Decimal(c.nbbo(s)["mid"]) for s in SYMBOLS}
                c.deploy_algo(ALGO, rester(100, 10, ALGO_EVERY), "BTC/USDT", sorted(region.edges), start=True)
                wait_until(lambda: all(e["orders"] >= 1 for e in c.algo(ALGO)["edges"]), 60,
                           what="the algo placing orders on every edge")
                samples.append((0, {name: rss_kb(pid) for name, pid in pids.items()}))
                load = Load(region.api, orders, concurrency, sample_every, mids, sample)
                t0 = time.monotonic()
                asyncio.run(load.run())
                elapsed = time.monotonic() - t0
                profiled = None
                if profiler is not None:
                    profiler.probe(pids)
                    profiled = profiler.report(pids)
                algo_edges = {e["edge"]: e for e in c.algo(ALGO)["edges"]}
                c.delete_algo(ALGO)
                # Nothing lost: every accepted order is in the CC and final there. The whole list
                # once; then only the orders not final yet, a bounded while (a stuck one is reported).
                known = {o["order_id"]: o["state"] for o in c.orders(limit=1_000_000)}
                deadline = time.monotonic() + 120
                while (waiting := [i for i in load.accepted if known.get(i, "filled") not in FINAL]) and \
                        time.monotonic() < deadline:
                    time.sleep(2)
                    known |= {i: c.order(i)["state"] for i in waiting}
                stuck = {i: c.order(i) for i in load.accepted if known.get(i, "filled") not in FINAL}
        finally:
            region.stop()
            os.environ.clear()
            os.environ.update(saved_env)
    names = list(pids)
    marks = [m for m in range(10_000, orders + 1, 10_000)] or [orders]
    at = {done: rss for done, rss in samples}
    after = [(done, rss) for done, rss in samples if done >= warmup]
    base = at.get(warmup) or samples[0][1]
    slopes = {n: slope_mb_per_10k([(d, r[n]) for d, r in after]) for n in names}
    last_half = {n: slope_mb_per_10k([(d, r[n]) for d, r in samples if d >= orders // 2]) for n in names}
    lost = [oid for oid in load.accepted if oid not in known]
    return {
        "orders": orders, "duration_s": round(elapsed, 1), "orders_per_s": round(orders / elapsed, 1),
        "concurrency": concurrency, "sample_every": sample_every, "warmup_orders": warmup,
        "orders_accepted": len(load.accepted), "errors": len(load.errors), "first_errors": load.errors[:3],
        "cancels_answered": load.cancels, "cancel_errors": len(load.cancel_errors),
        "first_cancel_errors": load.cancel_errors[:3],
        "orders_lost": len(lost), "all_final": all(known.get(oid) in FINAL for oid in load.accepted),
        "not_final": {i: {k: o.get(k) for k in ("client_order_id", "type", "state", "filled", "children")}
                      for i, o in list(stuck.items())[:5]},
        "algo_orders_per_edge": {v: e.get("orders") for v, e in sorted(algo_edges.items())},
        "algo_denied_per_edge": {v: e.get("denied") for v, e in sorted(algo_edges.items())},
        "rss_mb_at_start": {n: round(samples[0][1][n] / 1024, 1) for n in names},
        "rss_mb": {n: {str(m): round(at[m][n] / 1024, 1) for m in marks if m in at} for n in names},
        "slope_mb_per_10k_after_warmup": slopes,
        # The edges' and the CC's windows of final orders (10,000 each) fill only after a while.
        "slope_mb_per_10k_last_half": last_half,
        # Growth per 10,000 orders as a fraction of the process's size after warm-up.
        "slope_ratio_per_10k": {n: round(slopes[n] * 1024 / base[n], 4) for n in names},
        **({"profile": profiled} if profiled is not None else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--sample-every", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=None, help="orders before the slope is fitted "
                        "(default: 10,000, or a fifth of the orders when fewer)")
    parser.add_argument("--profile", action="store_true", help="what grows in each process after warm-up "
                        "(object counts by type, tracemalloc's allocation sites)")
    args = parser.parse_args()
    if args.orders < 1 or args.sample_every < 1 or args.concurrency < 1:
        parser.error("--orders, --sample-every and --concurrency must be at least 1")
    print(json.dumps(run(args.orders, args.sample_every, args.concurrency, args.warmup, args.profile), indent=2))


if __name__ == "__main__":
    main()
