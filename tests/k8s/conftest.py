"""A real control plane (etcd, kube-apiserver, kube-controller-manager) for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Operator timers are declared at import: make them fast before anything imports the operator.
os.environ.setdefault("SEQMESH_OPERATOR_RESYNC_SECONDS", "2")

from seqmesh.devcluster.controlplane import ControlPlane


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    cp.start()
    yield cp
    cp.stop()
