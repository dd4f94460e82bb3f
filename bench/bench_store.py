"""The ledger store: units of work per second and commit latency, SQLite (both durability
modes) and PostgreSQL (a real server on loopback, fsync on) in the same run, beside today's
`seqmesh/testing/legacy_ledger.Ledger` as the baseline the SQLite store must not fall behind.

A unit is the order path's write-ahead: a parent and two children saved, then `durable()`.
- `sequential`: one writer, one unit at a time: p50/p99 of write -> durable() returned, and
  the process's CPU per unit (SQLite's fsync is a system call of this process).
- `concurrent`: 32 writers at once (as a busy CC's requests): units/s and units per commit
  (group commit shares one COMMIT among the writers of a loop turn).
Medians over rounds that take each target in turn.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from seqmesh.runtime.cc.domain import Child, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.store import LedgerStore, open_store

from seqmesh.testing.legacy_ledger import Ledger

DURABILITIES = ("power-loss", "process-crash")
ROUNDS = 7
SEQUENTIAL = 100  # units per round, one at a time
WRITERS, PER_WRITER = 32, 20  # per round, at once
_ids = itertools.count()


def _order() -> tuple[Parent, list[Child]]:
    n = next(_ids)
    now = time.time_ns()
    p = Parent(f"b{n}", "bench", f"c{n}", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("1.5"), Decimal("65000.1"),
               ParentState.NEW, now, now, decision={"route": [{"venue": "okx", "qty": "0.75"}], "decided_ns": now})
    children = [Child(f"b{n}-{k}", p.order_id, venue, Decimal("0.75"), Decimal("65000.1"), OrderType.LIMIT,
                      created_ns=now, updated_ns=now) for k, venue in enumerate(("okx", "kraken"))]
    p.children.extend(children)
    return p, children


def store_unit(store: LedgerStore) -> Callable[[], Awaitable[None]]:
    async def unit() -> None:
        p, children = _order()
        with store.atomic():
            store.save_parent(p, "accepted")
            for c in children:
                store.save_child(c, "routed")
        await store.durable()
    return unit


def ledger_unit(ledger: Ledger) -> Callable[[], Awaitable[None]]:
    """The same unit as the engine writes it today."""
    async def unit() -> None:
        p, children = _order()
        ledger.begin_group()
        with ledger:
            ledger.save_parent(p, "accepted")
            for c in children:
                ledger.save_child(c, "routed")
        await ledger.durable()
    return unit


async def measure(unit: Callable[[], Awaitable[None]], counted: Ledger | LedgerStore) -> dict[str, float]:
    """One round; `counted` is what `unit` writes to (its `commits` tell units per commit)."""
    lat = []
    cpu0 = time.process_time()
    for _ in range(SEQUENTIAL):
        t0 = time.perf_counter()
        await unit()
        lat.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    lat.sort()

    async def writer() -> None:
        for _ in range(PER_WRITER):
            await unit()

    before = counted.commits
    t0 = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    elapsed = time.perf_counter() - t0
    units = WRITERS * PER_WRITER
    return {
        "sequential_p50_us": statistics.median(lat) * 1e6,
        "sequential_p99_us": lat[int(len(lat) * 0.99)] * 1e6,
        "sequential_cpu_us_per_unit": cpu / len(lat) * 1e6,
        "concurrent_units_per_s": units / elapsed,
        "concurrent_units_per_commit": units / max(counted.commits - before, 1),
    }


async def bench(tmp: Path, pg_dsns: dict[str, str]) -> dict[str, Any]:
    """Every target measured in turn, ROUNDS times (so a noisy moment hits all of them); medians."""
    targets: dict[str, tuple[Callable[[], Awaitable[None]], Ledger | LedgerStore]] = {}
    stores: list[LedgerStore] = []
    ledgers: list[Ledger] = []
    for durability in DURABILITIES:
        ledger = Ledger(tmp / f"old-{durability}.sqlite", durability)
        ledgers.append(ledger)
        targets[f"ledger_baseline_sqlite_{durability}"] = (ledger_unit(ledger), ledger)
        urls = {"sqlite": f"sqlite:///{tmp / f'new-{durability}.sqlite'}"}
        if durability in pg_dsns:
            urls["postgresql"] = pg_dsns[durability]
        for backend, url in urls.items():
            store = await open_store(url, durability)
            stores.append(store)
            targets[f"store_{backend}_{durability}"] = (store_unit(store), store)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    try:
        for unit, _ in targets.values():
            for _ in range(20):  # warm-up: tables, statements, connections
                await unit()
        names = list(targets)
        for r in range(ROUNDS):
            for name in names[r % len(names):] + names[:r % len(names)]:  # each round starts elsewhere
                gc.collect()  # one target's garbage is not collected on another's time
                rounds[name].append(await measure(*targets[name]))
    finally:
        for store in stores:
            await store.close()
        for ledger in ledgers:
            ledger.close()
    out: dict[str, Any] = {name: {k: round(statistics.median(r[k] for r in rs), 1) for k in rs[0]}
                           for name, rs in rounds.items()}
    for durability in DURABILITIES:
        base, new = out[f"ledger_baseline_sqlite_{durability}"], out[f"store_sqlite_{durability}"]
        out[f"sqlite_{durability}_vs_baseline"] = {
            "p50_ratio": round(new["sequential_p50_us"] / base["sequential_p50_us"], 2),
            "cpu_per_unit_ratio": round(new["sequential_cpu_us_per_unit"] / base["sequential_cpu_us_per_unit"], 2),
            "concurrent_throughput_ratio": round(new["concurrent_units_per_s"] / base["concurrent_units_per_s"], 2),
        }
    return out


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        server = None
        dsns: dict[str, str] = {}
        pg_error = None
        try:
            from seqmesh.testing.postgres import PostgresServer

            server = PostgresServer()
            dsns = {d: server.dsn(server.create_database(f"bench_{d.replace('-', '_')}")) for d in DURABILITIES}
        except Exception as exc:  # no PostgreSQL here: the SQLite figures still count
            pg_error = f"{type(exc).__name__}: {exc}"
        try:
            result = asyncio.run(bench(Path(tmp), dsns))
        finally:
            if server is not None:
                server.stop()
        if pg_error:
            result["postgresql_error"] = pg_error
        result["units_per_round"] = {"sequential": SEQUENTIAL, "concurrent": WRITERS * PER_WRITER,
                                     "writers": WRITERS, "rounds": ROUNDS}
        return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
