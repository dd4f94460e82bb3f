"""The DEX edge: Uniswap V2 pools on one EVM chain under the edge's order manager.

A market order of `qty` base becomes one swap through the router, signed here with the edge's
key (eth-account), journaled before it is broadcast, followed block by block until it is the
configured depth under the head, and booked as one fill from what the pool's Swap event says.
Pool state and gas go out as market data. See docs/dex.md.
"""
