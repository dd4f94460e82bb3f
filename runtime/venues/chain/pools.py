"""Reads a V2 pair's state: `getReserves()` at a block, and the reserves its Sync events report.

Reserves are the pair's (reserve0, reserve1), ordered by token address; `oriented` turns them
into the in/out view the pool math takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqmesh.runtime.dex.v2math import Reserves
from web3 import Web3
from web3.logs import DISCARD
from web3.types import BlockIdentifier, TxReceipt

from .contracts import at, checksum
from .deploy import DeployedPair


@dataclass(frozen=True, slots=True)
class PairReserves:
    reserve0: int
    reserve1: int
    block: int  # the block the state was read at (getReserves) or the Sync was emitted in

    def oriented(self, pair: DeployedPair, token_in: str) -> Reserves:
        """The reserves as (in, out) for a swap paying `token_in` (an address) into `pair`."""
        if checksum(token_in) == pair.token0:
            return Reserves(self.reserve0, self.reserve1)
        return Reserves(self.reserve1, self.reserve0)


def get_reserves(w3: Web3, pair: DeployedPair, block: BlockIdentifier = "latest") -> PairReserves:
    number = w3.eth.get_block(block)["number"]
    r0, r1, _ = at(w3, "UniswapV2Pair", pair.address).functions.getReserves().call(block_identifier=number)
    return PairReserves(int(r0), int(r1), int(number))


def sync_events(w3: Web3, pair: DeployedPair, from_block: int, to_block: int | None = None) -> list[PairReserves]:
    """Every Sync of `pair` in [from_block, to_block] (latest when None), oldest first."""
    logs = at(w3, "UniswapV2Pair", pair.address).events.Sync().get_logs(
        from_block=from_block, to_block=to_block if to_block is not None else "latest")
    ordered = sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"]))
    return [PairReserves(int(e["args"]["reserve0"]), int(e["args"]["reserve1"]), int(e["blockNumber"]))
            for e in ordered]


@dataclass(frozen=True, slots=True)
class SwapEvent:
    amount0_in: int
    amount1_in: int
    amount0_out: int
    amount1_out: int


def swaps_in(w3: Web3, pair: DeployedPair, receipt: TxReceipt) -> list[SwapEvent]:
    """The Swap events `pair` emitted in the transaction of `receipt`."""
    events = at(w3, "UniswapV2Pair", pair.address).events.Swap().process_receipt(receipt, errors=DISCARD)
    return [SwapEvent(int(e["args"]["amount0In"]), int(e["args"]["amount1In"]),
                      int(e["args"]["amount0Out"]), int(e["args"]["amount1Out"]))
            for e in events if checksum(e["address"]) == pair.address]
