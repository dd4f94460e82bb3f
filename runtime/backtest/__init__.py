"""Backtests: an algo in the edge's WASM host against a recording, filled by the simulator's
matching engine (docs/backtest.md)."""
