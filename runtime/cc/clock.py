"""Time as a dependency: the wall clock for timestamps, a monotonic clock for intervals, and
sleeping. Production uses `SystemClock`; tests drive a `ManualClock` so a schedule's timing is
controlled by the test, never by how busy the machine is."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Wall-clock time, ns since the epoch (timestamps, schedules that survive a restart)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, rate limits)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ManualClock:
    """Time moves only when the test calls `advance`; sleepers due by then wake in order."""

    def __init__(self, start_ns: int = 1_767_225_600 * 10**9) -> None:  # 2026-01-01T00:00:00Z
        self._now = start_ns
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def monotonic(self) -> float:
        return self._now / 1e9

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(int(seconds * 1e9), 0), next(self._ids), fut))
        await fut

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own deadline and letting it run."""
        end = self._now + int(seconds * 1e9)
        while self._sleepers and self._sleepers[0][0] <= end:
            due, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not fut.done():
                fut.set_result(None)
            for _ in range(20):  # let the woken task (and what it awaits in turn) run
                await asyncio.sleep(0)
        self._now = end
        for _ in range(20):
            await asyncio.sleep(0)
