"""The maker's levels as the edge's market data: each change is a book snapshot (and a BBO).

An RFQ maker publishes levels, not an order flow: there are no deltas to sequence, so each
new version of the levels replaces the book, as a snapshot, with the venue's version number.
"""

from __future__ import annotations

import asyncio
import logging

from ..feed import BookFeed
from .rfq_client import RfqClient

log = logging.getLogger(__name__)


class LevelsStream:
    def __init__(self, rfq: RfqClient, feed: BookFeed, symbols: list[str], interval_s: float) -> None:
        self.rfq = rfq
        self.feed = feed
        self.symbols = set(symbols)
        self.interval_s = interval_s
        self.connected: dict[str, bool] = dict.fromkeys(symbols, False)
        self.reconnects = 0
        self._seen: dict[str, object] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        backoff = self.interval_s
        while True:
            try:
                for lv in await self.rfq.levels():
                    symbol = lv["symbol"]
                    if symbol not in self.symbols:
                        continue
                    self.connected[symbol] = True
                    seen = (lv["version"], lv["bids"], lv["asks"])
                    if self._seen.get(symbol) != seen:
                        self._seen[symbol] = seen
                        self.feed.on_snapshot(symbol, lv["bids"], lv["asks"], int(lv["ts"]), int(lv["version"]))
                backoff = self.interval_s
                await asyncio.sleep(self.interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the maker is down or answered nonsense: try again, loudly
                self.reconnects += 1
                for symbol in self.symbols:
                    self.connected[symbol] = False
                    self.feed.mark_unsynced(symbol)
                self._seen.clear()
                log.warning("maker levels: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
