"""Shared fixtures: real venue simulators and edges as child processes on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Tests start child processes (fork, then exec) while gRPC's threads run: its fork handlers have
# nothing to do there and once aborted a child ("epoll_wait error: Bad file descriptor"). Read by
# gRPC when it starts, so set before anything imports it.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import pytest

from seqmesh.testing.mesh import start_sim
from seqmesh.testing.postgres import PostgresServer

TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's `--dist loadgroup`: a module's tests stay on one worker (its module
    fixtures start once), and every test of the machine's one development node (the `k8s` marker,
    tests/k8s) runs on the same worker, one after another."""
    for item in items:
        path = Path(str(item.fspath)).resolve()
        rel = path.relative_to(TESTS) if path.is_relative_to(TESTS) else path
        node = item.get_closest_marker("k8s") is not None or rel.parts[:1] == ("k8s",)
        item.add_marker(pytest.mark.xdist_group("development-node" if node else str(rel)))


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One simulated venue for the session; yields its base URL."""
    proc, url = start_sim(tmp_path_factory.mktemp("sim"))
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (seqmesh/testing/postgres.py)."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's server, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.dsn(name)
    postgres_server.drop_database(name)
