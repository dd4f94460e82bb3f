"""The development cluster with a node, warm (binaries built): start to node Ready, to a first
pod Running, and stop (with the host cleaned), over a few rounds. Baseline in the same run: the
control plane alone (etcd, kube-apiserver, kube-controller-manager) to ready, which the node's
start can only add to. Needs root and the `node` group of hack/build-k8s.sh; one node per machine.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.devcluster.controlplane import ControlPlane, binary
from seqmesh.devcluster.node import BUSYBOX_IMAGE
from seqmesh.testing.processes import wait_until


def pod() -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "first"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                        "command": ["sleep", "3600"]}]}})


def node_round(workdir: Path) -> tuple[float, float, float]:
    """Seconds from start to node Ready, from a pod applied to Ready, and to stop and clean."""
    cp = ControlPlane(workdir, node=True, wait_for_node=600)
    t0 = time.perf_counter()
    cp.start()
    ready = time.perf_counter() - t0
    try:
        assert cp.node is not None
        cp.node.load_image(binary("images") / "busybox.tar")
        wait_until(lambda: cp.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
                   60, what="the default service account")  # pods are admitted once it exists
        t1 = time.perf_counter()
        cp.kubectl("apply", "-f", "-", input=pod())
        cp.kubectl("wait", "--for=condition=Ready", "pod/first", "--timeout=120s", timeout=150)
        running = time.perf_counter() - t1
    finally:
        t2 = time.perf_counter()
        cp.stop()
    return ready, running, time.perf_counter() - t2


def run(rounds: int = 3) -> dict[str, Any]:
    control_plane, node_ready, pod_running, stop = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            cp = ControlPlane(Path(tmp) / f"cp{i}")
            t0 = time.perf_counter()
            cp.start()
            control_plane.append(time.perf_counter() - t0)
            cp.stop()
            ready, running, stopped = node_round(Path(tmp) / f"node{i}")
            node_ready.append(ready)
            pod_running.append(running)
            stop.append(stopped)

    def p50(xs: list[float]) -> float:
        return round(statistics.median(xs), 2)

    return {"rounds": rounds,
            "baseline_control_plane_ready_p50_s": p50(control_plane),
            "start_to_node_ready_p50_s": p50(node_ready),
            "ratio_node_ready_vs_control_plane": round(statistics.median(node_ready) / statistics.median(control_plane),
                                                       2),
            "pod_apply_to_ready_p50_s": p50(pod_running),
            "stop_and_clean_p50_s": p50(stop),
            "start_to_node_ready_s": [round(x, 2) for x in node_ready]}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
