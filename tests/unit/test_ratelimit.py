from __future__ import annotations

import asyncio

import pytest
from seqmesh.runtime.edge.ratelimit import TokenBucket


async def test_bucket_allows_burst_then_paces() -> None:
    bucket = TokenBucket(rate_per_s=50, burst=5)
    for _ in range(5):
        await bucket.acquire()
    assert bucket.waits == 0
    for _ in range(5):
        await bucket.acquire()
    assert bucket.waits >= 5  # five more had to wait for refills (rate 50/s -> ~0.1 s in all)


def test_bucket_validates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    bucket = TokenBucket(1, 2)
    with pytest.raises(ValueError, match="burst"):
        asyncio.run(bucket.acquire(3))
