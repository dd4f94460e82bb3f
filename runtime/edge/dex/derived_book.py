"""Price levels read off a V2 pool's curve, for display beside the order books.

Level k of the asks is what buying the k-th chunk of base would cost per unit after the
chunks before it (the exact amounts in, differenced), rounded up to the tick; the bids
likewise from selling, rounded down. It is a picture of the curve, not liquidity to route
on: the router quotes a pool from its PoolState with the exact math.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from seqmesh.runtime.dex.v2math import V2MathError, get_amount_in, get_amount_out

from .markets import Pool

LEVELS = 10
CHUNK_OF_RESERVE = 1000  # each level is 1/1000 of the base reserve


def levels(pool: Pool, base_reserve: int, quote_reserve: int) -> tuple[list[list[str]], list[list[str]]]:
    """(bids, asks) as [price, qty] decimal strings, best first."""
    chunk = base_reserve // CHUNK_OF_RESERVE
    if chunk <= 0:
        return [], []
    tick = Decimal(1).scaleb(-pool.quote.decimals)
    qty = str(pool.base.from_raw(chunk))
    bids: list[list[str]] = []
    asks: list[list[str]] = []
    sold = bought = 0
    for k in range(1, LEVELS + 1):
        try:
            got = get_amount_out(k * chunk, base_reserve, quote_reserve)
            paid = get_amount_in(k * chunk, quote_reserve, base_reserve)
        except V2MathError:
            break
        bid = (pool.quote.from_raw(got - sold) / pool.base.from_raw(chunk)).quantize(tick, ROUND_FLOOR)
        ask = (pool.quote.from_raw(paid - bought) / pool.base.from_raw(chunk)).quantize(tick, ROUND_CEILING)
        sold, bought = got, paid
        if bid > 0:
            bids.append([str(bid), qty])
        asks.append([str(ask), qty])
    return bids, asks
