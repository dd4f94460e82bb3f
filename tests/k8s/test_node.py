"""The development cluster's node runs pods as a real one does: kubelet, containerd and runc
(cgroup v1), CNI bridge, kube-proxy Services, CoreDNS names, local PersistentVolumes."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.devcluster.node import NODE_IP, NODE_NAME, POD_CIDR
from seqmesh.testing.kube import (
    SEQMESH_IMAGE,
    apply,
    busybox_pod,
    dns_lookup,
    load_seqmesh_image,
    pod_exec,
    scratch_namespace,
    wait_pods,
)
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s


def get(cp: ControlPlane, ns: str, kind: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cp.kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)
    return result


def test_node_registers_and_is_ready(k8s_node_cluster: ControlPlane) -> None:
    node = json.loads(k8s_node_cluster.kubectl("get", "node", NODE_NAME, "-o", "json").stdout)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True", node["status"]["conditions"]
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"].startswith("v1.34.")
    assert info["containerRuntimeVersion"] == "containerd://2.4.2"
    assert {"type": "InternalIP", "address": NODE_IP} in node["status"]["addresses"]
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == NODE_NAME


def test_pod_runs_with_logs_and_exec(k8s_node_cluster: ControlPlane) -> None:
    cp = k8s_node_cluster
    with scratch_namespace(cp, "node-pod") as ns:
        apply(cp, ns, busybox_pod("hello", "echo hello from $(hostname); exec sleep 3600"))
        wait_pods(cp, ns, "pod/hello")
        wait_until(lambda: "hello from hello" in cp.kubectl("logs", "-n", ns, "hello").stdout, 30,
                   what="the pod's log")
        assert pod_exec(cp, ns, "hello", "sh", "-c", "echo $((6 * 7))").strip() == "42"
        pod = get(cp, ns, "pod", "hello")
        assert pod["spec"]["nodeName"] == NODE_NAME
        assert pod["status"]["podIP"].startswith(POD_CIDR.rsplit(".", 1)[0] + ".")
        # its own PID namespace: the container's command is PID 1
        assert pod_exec(cp, ns, "hello", "cat", "/proc/1/comm").strip() == "sleep"
        # what an in-cluster client (the operator in a pod) needs: a token and the API server's Service
        token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
        assert pod_exec(cp, ns, "hello", "sh", "-c", f"test -s {token} && echo ok").strip() == "ok"
        assert pod_exec(cp, ns, "hello", "sh", "-c", "echo | nc -w 5 kubernetes.default.svc 443 && echo open"
                        ).strip() == "open"


def test_memory_limit_is_enforced(k8s_node_cluster: ControlPlane) -> None:
    cp = k8s_node_cluster
    with scratch_namespace(cp, "node-oom") as ns:
        # `tail` keeps the whole newline-free stream of /dev/zero in memory: it grows until the limit
        apply(cp, ns, busybox_pod("hog", "exec tail /dev/zero", restartPolicy="Never",
                                  container={"resources": {"limits": {"memory": "32Mi"}}}))

        def terminated() -> dict[str, Any]:
            statuses = get(cp, ns, "pod", "hog")["status"].get("containerStatuses") or [{}]
            state: dict[str, Any] = statuses[0].get("state", {}).get("terminated", {})
            return state

        wait_until(lambda: bool(terminated()), 90, what="the memory hog to be killed")
        assert terminated()["reason"] == "OOMKilled", terminated()
        assert terminated()["exitCode"] == 137


def web_deployment() -> list[dict[str, Any]]:
    labels = {"app": "web"}
    serve = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
    pod = busybox_pod("unused", serve, labels=labels,
                      container={"ports": [{"containerPort": 8080}],
                                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}})
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                           "template": {"metadata": {"labels": labels}, "spec": pod["spec"]}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}
    return [deployment, service]


def test_deployment_reachable_on_pod_ips_and_through_its_service_by_name(k8s_node_cluster: ControlPlane) -> None:
    cp = k8s_node_cluster
    with scratch_namespace(cp, "node-web") as ns:
        apply(cp, ns, *web_deployment(), busybox_pod("client", "exec sleep 3600"))
        wait_pods(cp, ns, "-l app=web")
        wait_pods(cp, ns, "pod/client")
        pods = json.loads(cp.kubectl("get", "pods", "-n", ns, "-l", "app=web", "-o", "json").stdout)["items"]
        names = {p["metadata"]["name"] for p in pods}
        assert len(names) == 2
        for p in pods:  # pod to pod, on the bridge
            answer = pod_exec(cp, ns, "client", "wget", "-qO-", f"http://{p['status']['podIP']}:8080/")
            assert answer.strip() == p["metadata"]["name"]
        cluster_ip = get(cp, ns, "service", "web")["spec"]["clusterIP"]
        # through kube-proxy's rules, by the names the CC uses for edges, from a pod
        for host in (f"web.{ns}.svc", f"web.{ns}.svc.cluster.local", "web"):
            # (no `wget -T`: it segfaults in Debian's busybox 1.35; kubectl exec's timeout bounds it)
            answer = pod_exec(cp, ns, "client", "wget", "-qO-", f"http://{host}:80/")
            assert answer.strip() in names, (host, answer)
        resolved = pod_exec(cp, ns, "client", "nslookup", f"web.{ns}.svc.cluster.local")
        assert cluster_ip in resolved, resolved
        # and from this machine: the ClusterIP answers, CoreDNS resolves the name
        with urllib.request.urlopen(f"http://{cluster_ip}:80/", timeout=5) as resp:
            assert resp.read().decode().strip() in names
        assert dns_lookup(NODE_IP, f"web.{ns}.svc.cluster.local") == [cluster_ip]
        assert dns_lookup(NODE_IP, f"nothing.{ns}.svc.cluster.local") == []


def test_volume_claim_binds_and_survives_its_pod(k8s_node_cluster: ControlPlane) -> None:
    cp = k8s_node_cluster
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}

    def writer(name: str, script: str) -> dict[str, Any]:
        return busybox_pod(name, script, container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                           volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])

    with scratch_namespace(cp, "node-pvc") as ns:
        apply(cp, ns, claim, writer("first", "cat /proc/sys/kernel/random/uuid > /data/stamp; exec sleep 3600"))
        wait_pods(cp, ns, "pod/first")
        pvc = get(cp, ns, "pvc", "data")
        assert pvc["status"]["phase"] == "Bound"
        assert pvc["spec"]["storageClassName"] == "standard"  # the default class
        pv = json.loads(cp.kubectl("get", "pv", pvc["spec"]["volumeName"], "-o", "json").stdout)
        assert pv["spec"]["local"]["path"].startswith(str(cp.workdir))
        stamp = pod_exec(cp, ns, "first", "cat", "/data/stamp").strip()
        assert len(stamp) == 36, stamp  # a fresh UUID: only this pod can have written it

        cp.kubectl("delete", "pod", "first", "-n", ns, "--timeout=60s")
        apply(cp, ns, writer("second", "exec sleep 3600"))
        wait_pods(cp, ns, "pod/second")
        assert pod_exec(cp, ns, "second", "cat", "/data/stamp").strip() == stamp

        # Delete policy: the claim gone, the volume and its directory go too
        cp.kubectl("delete", "pod", "second", "-n", ns, "--timeout=60s")
        cp.kubectl("delete", "pvc", "data", "-n", ns, "--timeout=60s")
        wait_until(lambda: cp.kubectl("get", "pv", pv["metadata"]["name"], check=False).returncode != 0, 60,
                   what="the released volume to be deleted")
        assert not (cp.workdir / pv["spec"]["local"]["path"]).exists()


@pytest.mark.timeout(1200)  # builds the image when its sources changed (hack/build-image.sh caches it)
def test_seqmesh_image_runs_as_a_pod(k8s_node_cluster: ControlPlane) -> None:
    """seqmesh's image (hack/build-image.sh, loaded with ctr import + tag) runs on the node as the
    Dockerfile's does: non-root, `seqmesh` on PATH."""
    cp = k8s_node_cluster
    assert load_seqmesh_image(cp) == SEQMESH_IMAGE
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "seqmesh"}, "spec": {
        "restartPolicy": "Never", "containers": [{
            "name": "main", "image": SEQMESH_IMAGE, "imagePullPolicy": "Never",
            "command": ["/bin/sh", "-c", "id -u && exec seqmesh --help"]}]}}
    with scratch_namespace(cp, "node-image") as ns:
        apply(cp, ns, pod)
        wait_until(lambda: get(cp, ns, "pod", "seqmesh")["status"].get("phase") in ("Succeeded", "Failed"), 120,
                   what="the seqmesh pod to finish")
        log = cp.kubectl("logs", "-n", ns, "seqmesh").stdout
        assert get(cp, ns, "pod", "seqmesh")["status"]["phase"] == "Succeeded", log
        uid, _, usage = log.partition("\n")
        assert uid.strip() == "10001"
        assert "usage: seqmesh" in usage
