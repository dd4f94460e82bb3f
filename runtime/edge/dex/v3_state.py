"""A V3 pool's state read by calls at one block (slot0, liquidity, the tick bitmap's words
around the price and their initialized ticks' liquidityNet), and what its Swap, Mint and Burn
events say: a Swap carries the price, tick and liquidity it left; a Mint or Burn changes the
ticks, so the pool is read again."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hexbytes import HexBytes
from seqmesh.runtime.dex import v3math, v3ticks
from web3.types import BlockIdentifier

from .chain_client import ChainClient
from .markets import Pool

WORDS_EACH_SIDE = 1  # a bitmap word is 256 spacings: +-29% in price at fee 500, far more at 3000
V3_SWAP_TOPIC = HexBytes(ChainClient.topic("Swap(address,address,int256,int256,uint160,uint128,int24)"))
V3_MINT_TOPIC = HexBytes(ChainClient.topic("Mint(address,address,int24,int24,uint128,uint256,uint256)"))
V3_BURN_TOPIC = HexBytes(ChainClient.topic("Burn(address,int24,int24,uint128,uint256,uint256)"))


async def read(client: ChainClient, pool: Pool, block: BlockIdentifier) -> v3math.V3PoolState:
    """The pool's state at `block` (a number, or "pending" for what the next block will find)."""
    c = client.contract("UniswapV3Pool", pool.address).functions
    slot0, liquidity = await asyncio.gather(client.call(c.slot0().call(block_identifier=block)),
                                            client.call(c.liquidity().call(block_identifier=block)))
    tick = int(slot0[1])
    words = v3ticks.words_around(tick, pool.tick_spacing, WORDS_EACH_SIDE)
    bitmaps = await asyncio.gather(*(client.call(c.tickBitmap(w).call(block_identifier=block)) for w in words))
    initialized = [t for w, bits in zip(words, bitmaps, strict=True)
                   for t in v3ticks.ticks_in_word(w, int(bits), pool.tick_spacing)]
    infos = await asyncio.gather(*(client.call(c.ticks(t).call(block_identifier=block)) for t in initialized))
    return v3math.V3PoolState(int(slot0[0]), tick, int(liquidity), pool.fee_ppm, pool.tick_spacing,
                              {t: int(info[1]) for t, info in zip(initialized, infos, strict=True)},
                              v3ticks.span(words, pool.tick_spacing))


def after_swap(state: v3math.V3PoolState, data: bytes) -> v3math.V3PoolState | None:
    """The state a Swap event's data (amount0, amount1, sqrtPriceX96, liquidity, tick) left; None
    when its tick moved to another bitmap word: the caller reads the pool again, so the ticks
    known stay centred on the price."""
    words = [data[i:i + 32] for i in range(0, 160, 32)]
    sqrt_price, liquidity = int.from_bytes(words[2]), int.from_bytes(words[3])
    tick = int.from_bytes(words[4], signed=True)
    if v3ticks.word_of(tick, state.tick_spacing) != v3ticks.word_of(state.tick, state.tick_spacing):
        return None
    return v3math.V3PoolState(sqrt_price, tick, liquidity, state.fee_pips, state.tick_spacing, state.ticks,
                              state.tick_range)


def swapped(pool: Pool, data: bytes) -> tuple[int, int]:
    """(base, quote) amounts a Swap event moved, unsigned."""
    amount0, amount1 = int.from_bytes(data[0:32], signed=True), int.from_bytes(data[32:64], signed=True)
    base, quote = (amount0, amount1) if pool.base_is_token0 else (amount1, amount0)
    return abs(base), abs(quote)


def mid(pool: Pool, sqrt_price_x96: int) -> Decimal:
    """Quote per base, in whole tokens, at the pool's price."""
    return v3math.mid_of(sqrt_price_x96, pool.base_is_token0, pool.base.decimals, pool.quote.decimals)


def virtual_base(pool: Pool, state: v3math.V3PoolState) -> int:
    """The base reserve a V2 pool as deep as the active liquidity would hold at this price."""
    if pool.base_is_token0:
        return state.liquidity * v3math.Q96 // state.sqrt_price_x96
    return state.liquidity * state.sqrt_price_x96 // v3math.Q96
