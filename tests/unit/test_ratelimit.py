from __future__ import annotations

import asyncio

import pytest
from seqmesh.runtime.edge.ratelimit import TokenBucket


async def test_bucket_allows_burst_then_paces() -> None:
    # Slow refills (one token per 200 ms), all asked at once: a loaded machine pausing the test for
    # a few ms between acquires (it did, at rate 50/s) cannot refill the bucket for the late ones.
    bucket = TokenBucket(rate_per_s=5, burst=5)
    await asyncio.gather(*(bucket.acquire() for _ in range(8)))
    assert bucket.waits == 3  # the burst went at once; each of the three after it waited (~0.6 s in all)


def test_bucket_validates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    bucket = TokenBucket(1, 2)
    with pytest.raises(ValueError, match="burst"):
        asyncio.run(bucket.acquire(3))
