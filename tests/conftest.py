"""Shared fixtures: real venue simulators and edges as child processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from seqmesh.testing.mesh import start_sim


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One simulated venue for the session; yields its base URL."""
    proc, url = start_sim(tmp_path_factory.mktemp("sim"))
    yield url
    proc.stop()

