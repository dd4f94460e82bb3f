"""Fan-out of the edge's market data to its gRPC subscribers.

Each subscriber gets its own bounded queue and a contiguous `seq`; one that falls too far
behind is dropped (it reconnects and starts again from snapshots) rather than slowing the
feed for everyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from seqmesh.runtime.proto import edge_pb2 as pb

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, symbols: frozenset[str], maxsize: int) -> None:
        self.symbols = symbols
        self.queue: asyncio.Queue[pb.MarketData | None] = asyncio.Queue(maxsize)
        self.seq = 0
        self.overflowed = False

    def wants(self, symbol: str) -> bool:
        # "": an item of the whole venue (a chain's gas price), for every subscriber
        return not self.symbols or not symbol or symbol in self.symbols

    def put(self, item: pb.MarketData) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(None)  # tells the stream to end


class MarketDataHub:
    def __init__(self, venue: str, maxsize: int = 50_000) -> None:
        self.venue = venue
        self.maxsize = maxsize
        self.subscriptions: set[Subscription] = set()
        self.published = 0

    def subscribe(self, symbols: frozenset[str], snapshots: Callable[[], list[pb.MarketData]]) -> Subscription:
        """Register and queue the current snapshots in one step, so no delta falls between."""
        sub = Subscription(symbols, self.maxsize)
        for item in snapshots():
            if sub.wants(_symbol_of(item)):
                sub.put(item)
        self.subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)

    def publish(self, symbol: str, item: pb.MarketData) -> None:
        self.published += 1
        for sub in self.subscriptions:
            if sub.wants(symbol):
                sub.put(item)


def _symbol_of(item: pb.MarketData) -> str:
    kind = item.WhichOneof("item")
    return str(getattr(getattr(item, kind), "symbol", "")) if kind else ""
