"""The event loop every seqmesh server runs on: uvloop (libuv) where it is installed.

Measured on the order path (bench/bench_order_latency.py): the stock loop's per-wakeup cost is
visible at millisecond budgets; uvloop runs the same coroutines unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import gc_tuning

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    gc_tuning.configure()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; stay runnable without it
        return asyncio.run(main)
    return uvloop.run(main)


async def until_stopped() -> None:
    """Until the process gets SIGINT or SIGTERM (a server's main coroutine waits here)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
