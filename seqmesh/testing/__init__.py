"""Helpers for driving seqmesh's real processes from tests and benchmarks."""
