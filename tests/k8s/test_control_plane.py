"""The control plane built from Go modules behaves like a cluster's (versions, controllers, GC, RBAC)."""

from __future__ import annotations

import json

import pytest

from seqmesh.common.certs import issue_leaf
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s


def test_versions(k8s_cluster: ControlPlane) -> None:
    out = json.loads(k8s_cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"].startswith("v1.34.")
    assert out["clientVersion"]["gitVersion"] == out["serverVersion"]["gitVersion"]


def test_deployment_gets_a_replicaset(k8s_cluster: ControlPlane) -> None:
    k8s_cluster.kubectl("create", "deployment", "probe", "--image=registry.invalid/probe:1")
    wait_until(lambda: "probe-" in k8s_cluster.kubectl("get", "rs", "-o", "name").stdout, 30,
               what="a ReplicaSet from the deployment controller")
    k8s_cluster.kubectl("delete", "deployment", "probe", "--wait=false")


def test_owner_reference_garbage_collection(k8s_cluster: ControlPlane) -> None:
    k8s_cluster.kubectl("create", "configmap", "owner", "--from-literal=a=b")
    uid = k8s_cluster.kubectl("get", "configmap", "owner", "-o", "jsonpath={.metadata.uid}").stdout
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "owned", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}}
    k8s_cluster.kubectl("apply", "-f", "-", input=json.dumps(child))
    k8s_cluster.kubectl("delete", "configmap", "owner")
    wait_until(lambda: k8s_cluster.kubectl("get", "configmap", "owned", check=False).returncode != 0, 60,
               what="the garbage collector to delete the owned ConfigMap")


def test_rbac_denies_an_unprivileged_user(k8s_cluster: ControlPlane) -> None:
    nobody = issue_leaf(k8s_cluster.ca, common_name="nobody", dns_names=(), ips=(), server=False)
    kubeconfig = k8s_cluster.write_kubeconfig(k8s_cluster.workdir / "nobody.kubeconfig", nobody, "nobody")
    import subprocess

    from seqmesh.devcluster.controlplane import binary

    result = subprocess.run([str(binary("kubectl")), f"--kubeconfig={kubeconfig}", "get", "secrets"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "forbidden" in result.stderr.lower()
