"""One pending call at the earliest deadline asked for: a store's delayed commit.

Several writers ask for a commit "within d"; the soonest ask wins, later ones are already
served by it. Once it fires (or is cancelled) the next ask arms it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class EarliestCall:
    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def within(self, delay_s: float) -> None:
        """Call back at the latest `delay_s` from now (sooner if asked sooner before)."""
        loop = asyncio.get_running_loop()
        if self._handle is None or loop.time() + delay_s < self._handle.when():
            if self._handle is not None:
                self._handle.cancel()
            self._handle = loop.call_later(delay_s, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._callback()
