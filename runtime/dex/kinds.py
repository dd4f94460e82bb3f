"""A pool's kind, as PoolState names it on the wire (edge and CC read the same strings).

Its own module so that what only names a kind (the WASM host's pool tables, the router) does not
import web3 with the edge's pool model: an edge's start-up paid seconds for it.
"""

from __future__ import annotations

V2 = "uniswap-v2"  # a constant-product pair (Uniswap V2 and its forks)
V3 = "uniswap-v3"  # a pool with concentrated liquidity across ticks
