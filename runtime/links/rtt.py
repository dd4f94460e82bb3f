"""Round-trip estimates that one slow sample does not swing.

The router prices a venue's latency from its round trip, so a single probe delayed by a busy
host (a GC pause, a loaded core) must not send orders abroad for the next seconds. The estimate
is the median of the last few probes: a spike, or a slow first probe, is outvoted at once, and
a lasting change is followed within half the window.
"""

from __future__ import annotations

import statistics
from collections import deque

WINDOW = 9  # probes: ~9 s of an edge link (polled every second), 45 s of a peer at the default probe


class RoundTrips:
    def __init__(self, window: int = WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=window)

    def add(self, ms: float) -> None:
        """Record one round trip."""
        self._samples.append(ms)

    @property
    def ms(self) -> float | None:
        """The median of the recent round trips (None before the first)."""
        return statistics.median(self._samples) if self._samples else None

    def clear(self) -> None:
        """Forget them: a new connection may take another path."""
        self._samples.clear()
