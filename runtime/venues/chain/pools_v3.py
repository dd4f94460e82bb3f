"""Reads a V3 pool's state by calls, at one block: slot0's price and tick, the active
liquidity, the fee and spacing, and the initialized ticks in the bitmap words around the price,
as the swap math takes it (v3math.V3PoolState)."""

from __future__ import annotations

from seqmesh.runtime.dex import v3math, v3ticks
from web3 import Web3
from web3.types import BlockIdentifier

from .contracts import at
from .deploy_v3 import DeployedV3Pool

WORDS_EACH_SIDE = 1  # a word is 256 spacings: 2560 ticks (+-29% in price) at fee 500


def read_v3_pool(w3: Web3, pool: DeployedV3Pool, block: BlockIdentifier = "latest",
                 words_each_side: int = WORDS_EACH_SIDE) -> tuple[v3math.V3PoolState, int]:
    """The pool's state at `block` and that block's number."""
    number = int(w3.eth.get_block(block)["number"])
    c = at(w3, "UniswapV3Pool", pool.address).functions
    slot0 = c.slot0().call(block_identifier=number)
    sqrt_price, tick = int(slot0[0]), int(slot0[1])
    liquidity = int(c.liquidity().call(block_identifier=number))
    fee = int(c.fee().call(block_identifier=number))
    spacing = int(c.tickSpacing().call(block_identifier=number))
    words = v3ticks.words_around(tick, spacing, words_each_side)
    ticks: dict[int, int] = {}
    for word in words:
        for t in v3ticks.ticks_in_word(word, int(c.tickBitmap(word).call(block_identifier=number)), spacing):
            ticks[t] = int(c.ticks(t).call(block_identifier=number)[1])  # (gross, net, ...)
    state = v3math.V3PoolState(sqrt_price, tick, liquidity, fee, spacing, ticks, v3ticks.span(words, spacing))
    return state, number
