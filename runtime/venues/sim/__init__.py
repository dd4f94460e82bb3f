"""A simulated exchange: a real matching engine behind a real exchange dialect, Binance spot
or OKX v5 (docs/venues.md).

Edges and tests reach it only over that dialect (REST + WebSocket), exactly as they would a
real venue.
"""
