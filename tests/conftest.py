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
from _pytest.nodeid import NodeId

from seqmesh.testing.mesh import start_sim
from seqmesh.testing.postgres import PostgresServer

TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's `--dist loadgroup`: a module's tests stay on one worker (its module
    fixtures start once), and every test of the machine's one development node (the `k8s` marker,
    tests/k8s) runs on the same worker, one after another.

    The grouping is written into the test ids here, on each worker, as `<id>@<group>` (what the
    controller's loadgroup scheduler reads). xdist 3.8's own worker hook does that by setting
    `item._nodeid`, which pytest 9 no longer reads (a node's id is `item._id`): its rename was
    lost and modules were spread over both workers. The node's group, the longest, goes first:
    scopes are handed out in collection order, and started last it would run alone at the end."""
    if not (hasattr(config, "workerinput") and config.getvalue("loadgroup")):
        return
    on_node = []
    for item in items:
        path = Path(str(item.fspath)).resolve()
        rel = path.relative_to(TESTS) if path.is_relative_to(TESTS) else path
        node = item.get_closest_marker("k8s") is not None or rel.parts[:1] == ("k8s",)
        item._id = NodeId.parse(f"{item.nodeid}@{'development-node' if node else rel}")
        on_node.append(node)
    order = sorted(range(len(items)), key=lambda i: not on_node[i])  # stable: the node's tests first
    items[:] = [items[i] for i in order]


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
