"""Order ids: region prefix + microseconds + a per-process counter, unique across restarts."""

from __future__ import annotations

import itertools

from ..clock import Clock

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def b36(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _B36[r] + out
    return out or "0"


class OrderIds:
    def __init__(self, region: str, clock: Clock) -> None:
        self._prefix = "".join(ch for ch in region if ch.isalnum())[:3] or "cc"
        self._clock = clock
        self._counter = itertools.count()

    def next(self) -> str:
        """<= 20 characters: short enough for every venue's client order id."""
        return f"{self._prefix}{b36(self._clock.now_ns() // 1000)}{b36(next(self._counter) % 1296).rjust(2, '0')}"
