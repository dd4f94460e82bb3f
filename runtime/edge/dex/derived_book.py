"""Price levels read off a pool's curve (V2, or V3 across its ticks), for display beside the order books.

Level k of the asks is what buying the k-th chunk of base would cost per unit after the
chunks before it (the exact amounts in, differenced), rounded up to the tick; the bids
likewise from selling, rounded down. It is a picture of the curve, not liquidity to route
on: the router quotes a pool from its PoolState with the exact math.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from seqmesh.runtime.dex import v3math
from seqmesh.runtime.dex.v2math import get_amount_in, get_amount_out

from .markets import Pool

LEVELS = 10
CHUNK_OF_RESERVE = 1000  # each level is 1/1000 of the base reserve


Levels = tuple[list[list[str]], list[list[str]]]


def levels(pool: Pool, base_reserve: int, quote_reserve: int) -> Levels:
    """(bids, asks) of a V2 pair as [price, qty] decimal strings, best first."""
    return _levels(pool, base_reserve // CHUNK_OF_RESERVE,
                   lambda base: get_amount_out(base, base_reserve, quote_reserve),
                   lambda base: get_amount_in(base, quote_reserve, base_reserve))


def levels_v3(pool: Pool, state: v3math.V3PoolState, virtual_base: int) -> Levels:
    """(bids, asks) of a V3 pool, chunks of 1/1000 of the base a V2 pool as deep would hold."""
    sell_base = pool.base_is_token0  # zero_for_one when base is token0
    return _levels(pool, virtual_base // CHUNK_OF_RESERVE,
                   lambda base: v3math.quote_exact_input(state, sell_base, base),
                   lambda base: v3math.quote_exact_output(state, not sell_base, base))


def _levels(pool: Pool, chunk: int, sold_for: Callable[[int], int], bought_for: Callable[[int], int]) -> Levels:
    """Level k: the k-th chunk's quote, differenced; `sold_for`/`bought_for` raise ValueError
    (the math's errors) where the pool cannot go."""
    if chunk <= 0:
        return [], []
    tick = Decimal(1).scaleb(-pool.quote.decimals)
    qty = str(pool.base.from_raw(chunk))
    bids: list[list[str]] = []
    asks: list[list[str]] = []
    sold = bought = 0
    for k in range(1, LEVELS + 1):
        try:
            got = sold_for(k * chunk)
            paid = bought_for(k * chunk)
        except ValueError:
            break
        bid = (pool.quote.from_raw(got - sold) / pool.base.from_raw(chunk)).quantize(tick, ROUND_FLOOR)
        ask = (pool.quote.from_raw(paid - bought) / pool.base.from_raw(chunk)).quantize(tick, ROUND_CEILING)
        sold, bought = got, paid
        if bid > 0:
            bids.append([str(bid), qty])
        asks.append([str(ask), qty])
    return bids, asks
