"""Per-client request rate limits of the API: a token bucket per client, refilled continuously.

A request that finds its client's bucket empty is answered 429 with `Retry-After` (whole
seconds, rounded up: when a token will be there) before anything reads its body."""

from __future__ import annotations

import math
from collections.abc import Callable


class RequestLimiter:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self.refused = 0

    def take(self, client: str, rate_per_s: float, burst: float) -> float:
        """Take a token: 0 when the request may go, else the seconds until the next token."""
        now = self.monotonic()
        tokens, stamp = self._buckets.get(client, (burst, now))
        tokens = min(burst, tokens + (now - stamp) * rate_per_s)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            self.refused += 1
            return (1 - tokens) / rate_per_s
        self._buckets[client] = (tokens - 1, now)
        return 0.0


def retry_after(wait_s: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
