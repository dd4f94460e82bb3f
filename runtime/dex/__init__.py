"""Automated market makers' pricing: the exact integer math the pool contracts run.

Outside runtime/venues on purpose: the DEX edge and the CC's router quote pools with it, and
neither may import the venues (the import-layer contracts in pyproject.toml).
"""
