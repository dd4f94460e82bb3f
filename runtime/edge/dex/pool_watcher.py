"""Each pool's state, followed from its events block by block, as PoolState market data.

At start (and after a reorg) every pool is read by calls at the head (a V2 pair's
`getReserves()`; a V3 pool's slot0, liquidity and initialized ticks around the price, v3_state.py);
from then on one `eth_getLogs` per new head brings the events of all our pools since the last
head: a pair's Sync is its reserves; a V3 Swap is its price, tick and liquidity; a V3 Mint or Burn
(ticks changed), or a price past the ticks read, has the pool read again at the head. Every pool
whose state changed is published with the head's number and timestamp (exchange_ts), and its
derived levels go into the book feed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from hexbytes import HexBytes
from seqmesh.runtime.dex import v3math
from seqmesh.runtime.dex.kinds import V2, V3
from seqmesh.runtime.dex.v2math import Reserves
from seqmesh.runtime.proto import edge_pb2 as pb
from web3 import AsyncWeb3
from web3.types import BlockData, FilterParams

from ..feed import BookFeed
from ..hub import MarketDataHub
from . import derived_book, v3_state
from .chain_client import ChainClient
from .markets import DexMarket, Pool
from .v3_state import V3_BURN_TOPIC, V3_MINT_TOPIC, V3_SWAP_TOPIC

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


@dataclass
class V3Snapshot:
    state: v3math.V3PoolState
    block: int
    block_ts_ns: int
    recv_ns: int


class PoolWatcher:
    def __init__(self, client: ChainClient, market: DexMarket, venue: str, hub: MarketDataHub,
                 feed: BookFeed | None = None) -> None:
        self.client = client
        self.market = market
        self.venue = venue
        self.hub = hub
        self.feed = feed
        self.reserves: dict[str, PoolReserves] = {}  # V2 pairs
        self.v3: dict[str, V3Snapshot] = {}  # V3 pools
        self.block = -1
        self.syncs = 0
        self._by_address = {p.address: p for p in market.pools.values()}

    async def on_head(self, block: BlockData, reorged: bool) -> None:
        number, ts_ns, recv = int(block["number"]), int(block["timestamp"]) * 1_000_000_000, time.time_ns()
        changed: dict[str, tuple[int, int]] = {}
        moved: dict[str, v3math.V3PoolState] = {}
        reread: set[str] = set()
        if self.block < 0 or reorged or number <= self.block:
            for pool in self.market.pools.values():
                if pool.kind == V3:
                    reread.add(pool.symbol)
                    continue
                r0, r1, _ = await self.client.call(self.client.contract("UniswapV2Pair", pool.address)
                                                   .functions.getReserves().call(block_identifier=number))
                changed[pool.symbol] = _oriented(pool, int(r0), int(r1))
        else:
            params: FilterParams = {"address": list(self._by_address),
                                    "topics": [[SYNC_TOPIC, V3_SWAP_TOPIC, V3_MINT_TOPIC, V3_BURN_TOPIC]],
                                    "fromBlock": self.block + 1, "toBlock": number}
            logs = sorted(await self.client.logs(params), key=lambda e: (e["blockNumber"], e["logIndex"]))
            for entry in logs:
                emitter = self._by_address.get(AsyncWeb3.to_checksum_address(entry["address"]))
                if emitter is None:
                    continue
                pool = emitter
                topic, data = HexBytes(entry["topics"][0]), bytes(entry["data"])
                if topic == SYNC_TOPIC:  # Sync(uint112 reserve0, uint112 reserve1): two words
                    changed[pool.symbol] = _oriented(pool, int.from_bytes(data[:32]), int.from_bytes(data[32:64]))
                elif topic == V3_SWAP_TOPIC and pool.symbol not in reread:
                    before = moved.get(pool.symbol) or self.v3[pool.symbol].state
                    after = v3_state.after_swap(before, data)
                    if after is None:
                        reread.add(pool.symbol)
                    else:
                        moved[pool.symbol] = after
                elif topic in (V3_MINT_TOPIC, V3_BURN_TOPIC):
                    reread.add(pool.symbol)
                self.syncs += 1
        for symbol in reread:
            moved[symbol] = await v3_state.read(self.client, self.market.pools[symbol], number)
        self.block = number
        for symbol, (base, quote) in changed.items():
            self.reserves[symbol] = PoolReserves(base, quote, number, ts_ns, recv)
        for symbol, state in moved.items():
            self.v3[symbol] = V3Snapshot(state, number, ts_ns, recv)
        for symbol in (*changed, *moved):
            self.hub.publish(symbol, pb.MarketData(venue=self.venue, pool=self.state(symbol)))
            if self.feed is not None:
                bids, asks = self.levels(symbol)
                self.feed.on_snapshot(symbol, bids, asks, ts_ns // 1_000_000, venue_seq=number)

    def levels(self, symbol: str) -> derived_book.Levels:
        """The pool's display levels read off its curve."""
        pool = self.market.pools[symbol]
        if pool.kind == V3:
            state = self.v3[symbol].state
            return derived_book.levels_v3(pool, state, v3_state.virtual_base(pool, state))
        r = self.reserves[symbol]
        return derived_book.levels(pool, r.base, r.quote)

    def mid(self, symbol: str) -> Decimal | None:
        """Quote per base at the pool's price, whole tokens (None before it is read or when empty)."""
        pool = self.market.pools.get(symbol)
        if pool is None:
            return None
        if pool.kind == V3:
            snapshot = self.v3.get(symbol)
            return None if snapshot is None else v3_state.mid(pool, snapshot.state.sqrt_price_x96)
        r = self.reserves.get(symbol)
        if r is None or not r.base:
            return None
        return pool.quote.from_raw(r.quote) / pool.base.from_raw(r.base)

    def state(self, symbol: str) -> pb.PoolState:
        pool = self.market.pools[symbol]
        if pool.kind == V3:
            return self._v3_state(pool, self.v3[symbol])
        r = self.reserves[symbol]
        return pb.PoolState(
            symbol=symbol, pool=pool.address, kind=V2, base_token=pool.base.address,
            quote_token=pool.quote.address, base_decimals=pool.base.decimals, quote_decimals=pool.quote.decimals,
            fee_ppm=pool.fee_ppm, base_reserve=str(r.base), quote_reserve=str(r.quote), block_number=r.block,
            ts=pb.Timestamps(exchange_ts=r.block_ts_ns, edge_recv_ts=r.recv_ns))

    def _v3_state(self, pool: Pool, snapshot: V3Snapshot) -> pb.PoolState:
        s = snapshot.state
        assert s.tick_range is not None  # read from the bitmap's words
        return pb.PoolState(
            symbol=pool.symbol, pool=pool.address, kind=V3, base_token=pool.base.address,
            quote_token=pool.quote.address, base_decimals=pool.base.decimals, quote_decimals=pool.quote.decimals,
            fee_ppm=pool.fee_ppm, liquidity=str(s.liquidity), sqrt_price_x96=str(s.sqrt_price_x96), tick=s.tick,
            ticks=[pb.TickLiquidity(tick=t, liquidity_net=str(net)) for t, net in sorted(s.ticks.items())],
            tick_spacing=s.tick_spacing, ticks_low=s.tick_range[0], ticks_high=s.tick_range[1],
            block_number=snapshot.block,
            ts=pb.Timestamps(exchange_ts=snapshot.block_ts_ns, edge_recv_ts=snapshot.recv_ns))

    def snapshots(self) -> list[pb.MarketData]:
        return [pb.MarketData(venue=self.venue, pool=self.state(s)) for s in (*self.reserves, *self.v3)]


def _oriented(pool: Pool, reserve0: int, reserve1: int) -> tuple[int, int]:
    """(base, quote) reserves from the pair's (reserve0, reserve1)."""
    return (reserve0, reserve1) if pool.base_is_token0 else (reserve1, reserve0)
