"""Execution algorithms: TWAP, VWAP and Iceberg orders worked by the CC as series of slices.

A slice is an order of its own (market or limit) that names its algorithm and goes through
the same risk -> SOR -> children path as any client order; an algorithm never talks to edges
or the ledger's internals. Its policy (`twap.py`, `vwap.py`, `iceberg.py`) decides what to
send and when; the scheduler (`scheduler.py`) persists each decision before acting on it, so a
restarted CC resumes every running algorithm where it was without sending a slice twice.
"""
