"""A venue's request limit per API key and endpoint: at most `limit` requests in any window.

The window slides (the requests of the last `window_ms`), so whether a request is refused
depends only on the requests before it, never on where a fixed window happened to start:
a test can count its way to a refusal.
"""

from __future__ import annotations

from collections import deque


class EndpointLimiter:
    def __init__(self, limit: int, window_ms: int) -> None:
        if limit < 1 or window_ms < 1:
            raise ValueError("limit and window must be positive")
        self.limit = limit
        self.window_ms = window_ms
        self._seen: dict[tuple[str, str], deque[int]] = {}

    def allow(self, key: str, endpoint: str, now_ms: int) -> bool:
        """Count the request and say whether it is within the limit; refused ones do not count."""
        seen = self._seen.setdefault((key, endpoint), deque())
        while seen and seen[0] <= now_ms - self.window_ms:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now_ms)
        return True
