"""Each pool's reserves, followed from its Sync events block by block, as PoolState market data.

At start (and after a reorg) every pool's `getReserves()` is read at the head; from then on one
`eth_getLogs` per new head brings the Sync events of all our pools since the last head, the
last of which is each pool's state. Every pool whose reserves changed is published with the
head's number and timestamp (exchange_ts), and its derived levels go into the book feed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hexbytes import HexBytes
from seqmesh.runtime.dex.v2math import Reserves
from seqmesh.runtime.proto import edge_pb2 as pb
from web3 import AsyncWeb3
from web3.types import BlockData, FilterParams

from ..feed import BookFeed
from ..hub import MarketDataHub
from . import derived_book
from .chain_client import ChainClient
from .markets import DexMarket, Pool

SYNC_TOPIC = HexBytes(ChainClient.topic("Sync(uint112,uint112)"))


@dataclass
class PoolReserves:
    base: int
    quote: int
    block: int
    block_ts_ns: int
    recv_ns: int

    @property
    def oriented(self) -> Reserves:
        """(base, quote) as the pool math's (in, out) for a sell of base."""
        return Reserves(self.base, self.quote)


class PoolWatcher:
    def __init__(self, client: ChainClient, market: DexMarket, venue: str, hub: MarketDataHub,
                 feed: BookFeed | None = None) -> None:
        self.client = client
        self.market = market
        self.venue = venue
        self.hub = hub
        self.feed = feed
        self.reserves: dict[str, PoolReserves] = {}
        self.block = -1
        self.syncs = 0
        self._by_address = {p.address: p for p in market.pools.values()}

    async def on_head(self, block: BlockData, reorged: bool) -> None:
        number, ts_ns, recv = int(block["number"]), int(block["timestamp"]) * 1_000_000_000, time.time_ns()
        changed: dict[str, tuple[int, int]] = {}
        if self.block < 0 or reorged or number <= self.block:
            for pool in self.market.pools.values():
                r0, r1, _ = await self.client.call(self.client.contract("UniswapV2Pair", pool.address)
                                                   .functions.getReserves().call(block_identifier=number))
                changed[pool.symbol] = _oriented(pool, int(r0), int(r1))
        else:
            params: FilterParams = {"address": list(self._by_address), "topics": [SYNC_TOPIC],
                                    "fromBlock": self.block + 1, "toBlock": number}
            logs = sorted(await self.client.logs(params), key=lambda e: (e["blockNumber"], e["logIndex"]))
            for entry in logs:
                synced = self._by_address.get(AsyncWeb3.to_checksum_address(entry["address"]))
                if synced is None:
                    continue
                data = bytes(entry["data"])  # Sync(uint112 reserve0, uint112 reserve1): two words
                changed[synced.symbol] = _oriented(synced, int.from_bytes(data[:32]), int.from_bytes(data[32:64]))
                self.syncs += 1
        self.block = number
        for symbol, (base, quote) in changed.items():
            self.reserves[symbol] = PoolReserves(base, quote, number, ts_ns, recv)
            self.hub.publish(symbol, pb.MarketData(venue=self.venue, pool=self.state(symbol)))
            if self.feed is not None:
                bids, asks = derived_book.levels(self.market.pools[symbol], base, quote)
                self.feed.on_snapshot(symbol, bids, asks, ts_ns // 1_000_000, venue_seq=number)

    def state(self, symbol: str) -> pb.PoolState:
        pool, r = self.market.pools[symbol], self.reserves[symbol]
        return pb.PoolState(
            symbol=symbol, pool=pool.address, kind="uniswap-v2", base_token=pool.base.address,
            quote_token=pool.quote.address, base_decimals=pool.base.decimals, quote_decimals=pool.quote.decimals,
            fee_ppm=pool.fee_ppm, base_reserve=str(r.base), quote_reserve=str(r.quote), block_number=r.block,
            ts=pb.Timestamps(exchange_ts=r.block_ts_ns, edge_recv_ts=r.recv_ns))

    def snapshots(self) -> list[pb.MarketData]:
        return [pb.MarketData(venue=self.venue, pool=self.state(s)) for s in self.reserves]


def _oriented(pool: Pool, reserve0: int, reserve1: int) -> tuple[int, int]:
    """(base, quote) reserves from the pair's (reserve0, reserve1)."""
    return (reserve0, reserve1) if pool.base_is_token0 else (reserve1, reserve0)
