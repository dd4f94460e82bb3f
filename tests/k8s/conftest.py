"""A real control plane (etcd, kube-apiserver, kube-controller-manager) for the session, and a
cluster with a real node (kubelet, containerd, runc, scheduler, kube-proxy, CoreDNS, local
volumes) for tests that run pods."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Operator timers are declared at import: make them fast before anything imports the operator.
os.environ.setdefault("SEQMESH_OPERATOR_RESYNC_SECONDS", "2")

from kopf.testing import KopfRunner

from seqmesh.devcluster.controlplane import ControlPlane, binary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    cp.start()
    yield cp
    cp.stop()


@pytest.fixture(scope="session")
def k8s_node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A cluster whose pods run: `ControlPlane(node=True)` (root; one node per machine, so it
    waits for another test run's node to stop), with the busybox test image
    (`seqmesh.devcluster.node.BUSYBOX_IMAGE`) loaded. Load more images with
    `k8s_node_cluster.node.load_image(tarball, ref)`; seqmesh's with
    `seqmesh.testing.kube.load_seqmesh_image(k8s_node_cluster)`."""
    cp = ControlPlane(tmp_path_factory.mktemp("node-cluster"), node=True, wait_for_node=600)
    cp.start()
    assert cp.node is not None
    cp.node.load_image(binary("images") / "busybox.tar")
    yield cp
    cp.stop()


@pytest.fixture(scope="module")
def operator(k8s_cluster: ControlPlane) -> Iterator[ControlPlane]:
    """The operator (kopf, in this process) with the CRDs installed."""
    k8s_cluster.kubectl("apply", "-f", str(REPO / "crds"))
    k8s_cluster.wait_established(*(f"{crd}.seqmesh.io" for crd in ("regions", "edges", "algos", "peerlinks")))
    os.environ["KUBECONFIG"] = str(k8s_cluster.kubeconfig)
    with KopfRunner(["run", "--standalone", "-A", "-m", "seqmesh.operator.main"], timeout=60) as runner:
        yield k8s_cluster
    assert runner.exception is None, runner.output[-3000:]
