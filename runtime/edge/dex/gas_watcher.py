"""The chain's gas price per block (EIP-1559 base fee and tip), as GasPrice market data, and the
fees the edge's own transactions offer.

A transaction offers max fee = 2 x base fee + tip: it stays includable through six consecutive
full blocks (the base fee rises at most 12.5% a block) and pays only base fee + tip. What a swap
costs in gas units is what the edge's last swaps used (their receipts), until there are some.
"""

from __future__ import annotations

import time

from seqmesh.runtime.dex.chains import ChainSpec
from seqmesh.runtime.proto import edge_pb2 as pb
from web3.types import BlockData

from ..hub import MarketDataHub
from .chain_client import ChainClient
from .pool_watcher import PoolWatcher

#: gas units of a one-hop V2 swap through Router02 before any receipt says better
SWAP_GAS_DEFAULT = 130_000
#: quotes the native token's price is read in, first found
PRICE_QUOTES = ("USDT", "USDC")
#: a chain with no new block (an idle automine node, a halted chain) still tells the CC, this
#: often, that its last block is the latest: the pools' state is current, only unchanged
HEARTBEAT_S = 1.0


class GasWatcher:
    def __init__(self, client: ChainClient, spec: ChainSpec, venue: str, hub: MarketDataHub, pools: PoolWatcher,
                 confirmations: int, block_time_s: float, priority_fee_wei: int | None = None) -> None:
        self.client = client
        self.spec = spec
        self.venue = venue
        self.hub = hub
        self.pools = pools
        self.confirmations = confirmations
        self.block_time_s = block_time_s
        self.fixed_tip = priority_fee_wei
        self.base_fee = 0
        self.tip = 0
        self.swap_gas = SWAP_GAS_DEFAULT
        self.last: pb.GasPrice | None = None

    def fees(self) -> tuple[int, int]:
        """(max fee, tip) per gas for a transaction sent now."""
        return 2 * self.base_fee + self.tip, self.tip

    def observed(self, gas_used: int) -> None:
        """A swap of ours used `gas_used`: the cost the router is told of follows it."""
        self.swap_gas = gas_used

    async def on_head(self, block: BlockData, reorged: bool) -> None:
        self.base_fee = int(block.get("baseFeePerGas") or 0)
        self.tip = self.fixed_tip if self.fixed_tip is not None else await self.client.priority_fee()
        price, symbol = self._native_price()
        self.last = pb.GasPrice(
            chain=self.spec.name, chain_id=self.spec.chain_id, base_fee_wei=str(self.base_fee),
            priority_fee_wei=str(self.tip), swap_gas=self.swap_gas, native_symbol=self.spec.native,
            native_price=price, price_symbol=symbol, block_time_s=self.block_time_s,
            confirmations=self.confirmations, block_number=int(block["number"]),
            ts=pb.Timestamps(exchange_ts=int(block["timestamp"]) * 1_000_000_000, edge_recv_ts=time.time_ns()))
        self.hub.publish("", pb.MarketData(venue=self.venue, gas=self.last))

    def _native_price(self) -> tuple[str, str]:
        """The native token's mid price in a stable quote, from our own pools ("" when none trades it)."""
        for quote in PRICE_QUOTES:
            symbol = f"{self.spec.native}/{quote}"
            mid = self.pools.mid(symbol)
            if mid is not None:
                return str(mid), symbol
        return "", ""

    def still_latest(self) -> None:
        """The head was asked for and is unchanged: the last GasPrice again, stamped now."""
        now = time.time_ns()
        if self.last is None or now - self.last.ts.edge_recv_ts < HEARTBEAT_S * 1e9:
            return
        beat = pb.GasPrice()
        beat.CopyFrom(self.last)  # the one sent before may still wait in a subscriber's queue
        beat.ts.edge_recv_ts = now
        self.last = beat
        self.hub.publish("", pb.MarketData(venue=self.venue, gas=beat))

    def snapshots(self) -> list[pb.MarketData]:
        return [] if self.last is None else [pb.MarketData(venue=self.venue, gas=self.last)]


