"""Per-client request rate limits of the API: a token bucket per client, refilled continuously.

A request that finds its client's bucket empty is answered 429 with `Retry-After` (whole
seconds, rounded up: when a token will be there) before anything reads its body. A stream's
messages (`/v1/stream`: subscribe, submit, ping) draw on the same bucket as the client's REST
requests, so a client cannot go around its rate by moving to the stream."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import CCSettings
    from ..domain import ClientRecord


class RequestLimiter:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self.monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self.refused = 0

    def admit(self, client: ClientRecord, settings: CCSettings) -> float:
        """A token from the client's bucket at its rate (or the region's): 0, or the seconds to wait."""
        rate = self.rate_of(client, settings)
        return self.take(client.client_id, rate, max(rate * settings.request_burst_s, 1.0))

    @staticmethod
    def rate_of(client: ClientRecord, settings: CCSettings) -> float:
        return client.requests_per_s or settings.requests_per_s

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


def rate_limited(client: ClientRecord, settings: CCSettings) -> str:
    """The refusal's message."""
    return (f"more than {RequestLimiter.rate_of(client, settings):g} requests per second from client "
            f"{client.client_id!r}: retry after the Retry-After seconds")
