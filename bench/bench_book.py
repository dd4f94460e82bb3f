"""L2 deltas applied per second with the best bid/offer read after every delta.

Workload: ~2,000 levels a side around a random-walking mid, most updates near the top, ~10%
deletes, seeded. Baseline in the same run: sortedcontainers.SortedDict per side, reading the
best level after each write (the usual pure-Python book). Goal: >= 1,000,000 deltas/s.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from seqmesh.runtime.book.l2 import L2Book
from sortedcontainers import SortedDict

LEVELS = 2000


def workload(n: int, seed: int = 5) -> list[tuple[bool, int, int]]:
    rng = random.Random(seed)
    mid = 6_500_000
    out = []
    for _ in range(n):
        mid += rng.choice((-1, 0, 0, 1))
        is_bid = rng.random() < 0.5
        dist = int(rng.expovariate(1 / 40)) % LEVELS + 1
        price = mid - dist if is_bid else mid + dist
        qty = 0 if rng.random() < 0.1 else rng.randint(1, 100_000)
        out.append((is_bid, price, qty))
    return out


def seed_levels() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return ([(6_500_000 - i, 1000 + i) for i in range(1, LEVELS + 1)],
            [(6_500_000 + i, 1000 + i) for i in range(1, LEVELS + 1)])


def bench_l2(deltas: list[tuple[bool, int, int]]) -> float:
    book = L2Book()
    book.load_snapshot(*seed_levels())
    batches = [(d[0], [(d[1], d[2])]) for d in deltas]  # one delta per call: BBO read after each
    sink = 0
    t0 = time.perf_counter()
    apply_many = book.apply_many
    for is_bid, update in batches:
        apply_many(is_bid, update)
        sink += book.best_bid + book.best_ask
    elapsed = time.perf_counter() - t0
    assert sink
    return len(deltas) / elapsed


def bench_l2_frames(deltas: list[tuple[bool, int, int]], per_frame: int = 13) -> float:
    """As venues deliver them: a frame of several levels per side, BBO read after each frame."""
    book = L2Book()
    book.load_snapshot(*seed_levels())
    frames = []
    for i in range(0, len(deltas), per_frame):
        chunk = deltas[i:i + per_frame]
        frames.append(([(p, q) for b, p, q in chunk if b], [(p, q) for b, p, q in chunk if not b]))
    t0 = time.perf_counter()
    sink = 0
    for bids, asks in frames:
        book.apply_many(True, bids)
        book.apply_many(False, asks)
        sink += book.best_bid + book.best_ask
    elapsed = time.perf_counter() - t0
    assert sink
    return len(deltas) / elapsed


def bench_sorteddict(deltas: list[tuple[bool, int, int]]) -> float:
    bids, asks = SortedDict(), SortedDict()
    b, a = seed_levels()
    bids.update(b)
    asks.update(a)
    sink = 0
    t0 = time.perf_counter()
    for is_bid, price, qty in deltas:
        side = bids if is_bid else asks
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)
        sink += bids.peekitem(-1)[0] + asks.peekitem(0)[0]
    elapsed = time.perf_counter() - t0
    assert sink
    return len(deltas) / elapsed


def run(n: int = 300_000, repeats: int = 5) -> dict[str, Any]:
    deltas = workload(n)
    ours = max(bench_l2(deltas) for _ in range(repeats))
    frames = max(bench_l2_frames(deltas) for _ in range(repeats))
    base = max(bench_sorteddict(deltas) for _ in range(repeats))
    return {
        "deltas": n, "levels_per_side": LEVELS,
        "l2book_deltas_per_s_bbo_each_delta": round(ours),
        "l2book_deltas_per_s_bbo_each_frame": round(frames),
        "baseline_sorteddict_deltas_per_s": round(base),
        "ratio_vs_sorteddict": round(ours / base, 2),
        "goal_deltas_per_s": 1_000_000,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
