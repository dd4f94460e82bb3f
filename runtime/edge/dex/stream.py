"""The DEX edge's market-data connection: the head watcher's loop, which drives the pool and
gas watchers and the transaction tracker (each new block, in that order)."""

from __future__ import annotations

import asyncio
import contextlib

from .heads import HeadWatcher


class DexStream:
    def __init__(self, heads: HeadWatcher, symbols: list[str]) -> None:
        self.heads = heads
        self.symbols = symbols
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> dict[str, bool]:
        return dict.fromkeys(self.symbols, self.heads.connected)

    def start(self) -> None:
        self._task = asyncio.create_task(self.heads.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
