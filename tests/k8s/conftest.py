"""A real control plane (etcd, kube-apiserver, kube-controller-manager) for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from seqmesh.devcluster.controlplane import ControlPlane


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    cp.start()
    yield cp
    cp.stop()
