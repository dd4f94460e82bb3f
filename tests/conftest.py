"""Shared fixtures: real venue simulators and edges as child processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seqmesh.testing.processes import Proc, seqmesh

SIM_READY = r"venue (\S+) ready: http://127\.0\.0\.1:(\d+)/api/v3"


def start_sim(tmp: Path, venue: str = "binance", seed: int = 7, *extra: str) -> tuple[Proc, str]:
    proc = seqmesh("sim", "--venue", venue, "--seed", str(seed), *extra, ready=SIM_READY,
                   log_path=tmp / f"sim-{venue}.log")
    assert proc.match is not None
    return proc, f"http://127.0.0.1:{proc.match.group(2)}"


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One simulated venue for the session; yields its base URL."""
    proc, url = start_sim(tmp_path_factory.mktemp("sim"))
    yield url
    proc.stop()
