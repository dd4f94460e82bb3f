"""Garbage-collector settings for seqmesh's long-running servers (CC, edge, simulator).

CPython's defaults (700, 10, 10) suit short scripts. A server that keeps its order history and
its imports' objects (ccxt alone builds ~100k) alive ran a full collection every two seconds
under load. Each one took ≈ 180 ms on the CC, and together they cost ≈ 20% of its CPU, growing
with the history. Measured with 64 clients (`bench/run.py throughput`, and 10 s windows of the
same load over 70 s): with the defaults the region fell from ≈ 560 to ≈ 470 orders/s as the
history grew; with these settings it held ≈ 580 orders/s throughout.

- `gc.freeze()` at start-up: what the imports built is never garbage, so collections stop
  scanning it.
- A young generation of 10,000: fewer young collections, each with few survivors.
- A full collection after 1,000 middle-generation ones instead of 10: a cycle that outlives two
  young collections waits longer to be freed, in exchange for no full scans of the history
  under load.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 10, 1_000)


def configure() -> None:
    gc.collect()  # nothing collectable is frozen along with the rest
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
