"""What a public-SDK algo on a DEX edge reads of its pool: PoolBooks, PoolStateTable and
ChainFeeTable (`seqmesh.runtime.wasm.public_abi`), from the pool and gas watchers' last state.

The algo's symbol has one pool on this edge: slot 0 (an action's `pool_idx` 1). Reserves are in
the pair's token0/token1 order, as the SDK's PoolAmm has them; a V3 pool's sqrt price is converted
from Q64.96 to the SDK's Q64.64; gas is the chain's last base fee and tip in gwei and the gas a
swap used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from seqmesh.runtime.dex.kinds import V3
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.wasm import public_abi as P

#: The SDK's chain ids (`features::chain_id`) by seqmesh's chain name.
CHAIN_IDS = {"ethereum": 0, "arbitrum": 1, "base": 2, "optimism": 3, "polygon": 4}
GWEI = 1_000_000_000


def pool_tables(gateway: Any, venue: str, symbol: str, bids: Sequence[tuple[int, int]],
                asks: Sequence[tuple[int, int]], recv_ns: int) -> tuple[bytes, bytes, bytes] | None:
    """(PoolBooks, PoolStateTable, ChainFeeTable) for `symbol`'s pool, None before it is read.
    `bids`/`asks` are its derived book, already in the SDK's units."""
    watcher = gateway.pools
    pool = watcher.market.pools.get(symbol)
    if pool is None or (symbol not in watcher.reserves and symbol not in watcher.v3):
        return None
    state: pb.PoolState = watcher.state(symbol)
    gas: pb.GasPrice | None = gateway.gas.last
    base_fee, tip = (int(gas.base_fee_wei or 0), int(gas.priority_fee_wei or 0)) if gas is not None else (0, 0)
    swap_gas = gas.swap_gas if gas is not None else 0
    if pool.kind == V3:
        reserve0 = reserve1 = 0
    else:
        base, quote = int(state.base_reserve), int(state.quote_reserve)
        reserve0, reserve1 = (base, quote) if pool.base_is_token0 else (quote, base)
    slot = P.PoolSlot(
        bytes.fromhex(state.pool.removeprefix("0x")), venue, state.fee_ppm,
        P.PROTOCOL_UNISWAP_V3 if pool.kind == V3 else P.PROTOCOL_UNISWAP_V2, bids, asks, reserve0, reserve1,
        int(state.sqrt_price_x96 or 0) >> 32, int(state.liquidity or 0), state.tick, state.tick_spacing,
        state.block_number, state.ts.exchange_ts, swap_gas, (base_fee + tip) // GWEI)
    books, states = P.encode_pools([slot], recv_ns)
    return books, states, _chain_fees(gas, base_fee, tip)


def _chain_fees(gas: pb.GasPrice | None, base_fee: int, tip: int) -> bytes:
    if gas is None or gas.chain not in CHAIN_IDS:
        return P.CHAIN_FEES_EMPTY
    native = int(Decimal(gas.native_price) * GWEI) if gas.native_price else 0
    return P.encode_chain_fees([(CHAIN_IDS[gas.chain], base_fee // GWEI, tip // GWEI, gas.swap_gas, native,
                                 gas.ts.edge_recv_ts)])
