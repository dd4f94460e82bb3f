"""A simulated exchange: a real matching engine behind the Binance spot dialect.

Edges and tests reach it only over that dialect (REST + WebSocket), exactly as they would a
real venue.
"""
