"""AMM pools' state and their chains' gas prices, as the DEX edges (and, mirrored, other regions'
CCs) report them: what the router needs to quote a pool exactly (docs/dex.md).

A pool's state changes only when someone swaps, so its age says nothing of whether it is
current; the chain's gas price comes with every block and does. A venue's pools are live while
its edge is connected and its last block is recent (three block times, or the CC's staleness
limit when that is longer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from seqmesh.runtime.proto import edge_pb2 as pb

WEI = Decimal(10) ** 18


def swap_gas_native(gas: pb.GasPrice) -> Decimal:
    """What one swap costs in the chain's native token at this block's fees."""
    return Decimal(gas.swap_gas) * (Decimal(gas.base_fee_wei) + Decimal(gas.priority_fee_wei)) / WEI


@dataclass
class PoolView:
    venue: str
    region: str
    remote: bool
    state: pb.PoolState


@dataclass
class ChainGas:
    venue: str
    gas: pb.GasPrice
    last_block: float  # monotonic time of the last block heard of


class PoolStates:
    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self._pools: dict[tuple[str, str], PoolView] = {}  # (venue, symbol)
        self._by_symbol: dict[str, list[PoolView]] = {}
        self._gas: dict[str, ChainGas] = {}
        self._where: dict[str, tuple[str, bool]] = {}  # venue -> (region, remote)
        self._connected: dict[str, bool] = {}

    def register(self, venue: str, region: str, remote: bool) -> None:
        self._where[venue] = (region, remote)

    def set_connected(self, venue: str, connected: bool) -> None:
        self._connected[venue] = connected

    def on_pool(self, venue: str, state: pb.PoolState) -> None:
        key = (venue, state.symbol)
        view = self._pools.get(key)
        if view is None:
            region, remote = self._where.get(venue, ("", False))
            view = self._pools[key] = PoolView(venue, region, remote, state)
            self._by_symbol.setdefault(state.symbol, []).append(view)
            self._by_symbol[state.symbol].sort(key=lambda v: v.venue)
        elif state.block_number >= view.state.block_number:
            view.state = state
        self._block(venue)

    def on_gas(self, venue: str, gas: pb.GasPrice) -> None:
        known = self._gas.get(venue)
        if known is None or gas.block_number >= known.gas.block_number:
            self._gas[venue] = ChainGas(venue, gas, time.monotonic())

    def _block(self, venue: str) -> None:
        known = self._gas.get(venue)
        if known is not None:
            known.last_block = time.monotonic()

    def pool(self, venue: str, symbol: str) -> PoolView | None:
        return self._pools.get((venue, symbol))

    def gas(self, venue: str) -> pb.GasPrice | None:
        known = self._gas.get(venue)
        return None if known is None else known.gas

    def is_live(self, venue: str) -> bool:
        known = self._gas.get(venue)
        if known is None or not self._connected.get(venue, False):
            return False
        limit = max(self.stale_after_s, 3 * known.gas.block_time_s)
        return time.monotonic() - known.last_block <= limit

    def pools(self, symbol: str, live_only: bool = False) -> list[PoolView]:
        out = self._by_symbol.get(symbol, [])
        return [v for v in out if self.is_live(v.venue)] if live_only else list(out)

    def all(self) -> list[PoolView]:
        return list(self._pools.values())

    def chains(self) -> list[ChainGas]:
        return list(self._gas.values())

    def is_pool_venue(self, venue: str) -> bool:
        return venue in self._gas or any(v == venue for v, _ in self._pools)
