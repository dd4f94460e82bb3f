"""Shared fixtures: real venue simulators and edges as child processes on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

# Tests start child processes (fork, then exec) while gRPC's threads run: its fork handlers have
# nothing to do there and once aborted a child ("epoll_wait error: Bad file descriptor"). Read by
# gRPC when it starts, so set before anything imports it.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import pytest

from seqmesh.testing.mesh import start_sim
from seqmesh.testing.postgres import PostgresServer


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
