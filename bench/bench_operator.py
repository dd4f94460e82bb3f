"""Operator figures against a real control plane (etcd, kube-apiserver, kube-controller-manager).

1. Apply -> ConfigMap and Ready, per Algo (p50 over sequential applies).
2. 500 Algos applied at once -> all Ready (goal <= 60 s).
The operator runs as its own process (`seqmesh operator run`). Baseline in the same run: the
API server's own create-then-read round trip for an Algo, which no operator can beat.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from seqmesh.devcluster.controlplane import REPO, ControlPlane

WASM = "AGFzbQEAAAA="
NS = "default"


def algo(name: str) -> dict[str, Any]:
    return {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Algo", "metadata": {"name": name, "namespace": NS},
            "spec": {"region": "na", "edges": ["na-coinbase"], "state": "Stopped", "wasm": WASM}}


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])) and \
        status.get("observedGeneration") == obj["metadata"].get("generation")


def run(single: int = 30, bulk: int = 500) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cp = ControlPlane(Path(tmp) / "cp")
        cp.start()
        operator = None
        try:
            cp.kubectl("apply", "-f", str(REPO / "crds"))
            cp.wait_established("algos.seqmesh.io")
            cp.kubectl("apply", "-f", str(REPO / "examples" / "manifests" / "region-na.yaml"),
                       "-f", str(REPO / "examples" / "manifests" / "edges-na.yaml"))
            env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "SEQMESH_OPERATOR_RESYNC_SECONDS": "600"}
            log = open(Path(tmp) / "operator.log", "wb")  # noqa: SIM115
            operator = subprocess.Popen([sys.executable, "-m", "seqmesh", "operator", "run", "--metrics-port", "0",
                                         "--liveness-port", "0", "--namespace", NS], env=env, stdout=log,
                                        stderr=subprocess.STDOUT)
            config.load_kube_config(config_file=str(cp.kubeconfig))
            co = client.CustomObjectsApi()
            core = client.CoreV1Api()
            args = ("seqmesh.io", "v1alpha1", NS, "algos")
            # Warm up: the operator has started once the example edge is Ready.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                e = co.get_namespaced_custom_object("seqmesh.io", "v1alpha1", NS, "edges", "na-coinbase")
                if ready(e):
                    break
                time.sleep(0.1)
            base, to_cm, to_ready = [], [], []
            for i in range(single):
                name = f"lat-{i}"
                t0 = time.perf_counter()
                co.create_namespaced_custom_object(*args, algo(name))
                co.get_namespaced_custom_object(*args, name)
                base.append(time.perf_counter() - t0)
                got_cm = None
                while True:
                    if got_cm is None:
                        try:
                            core.read_namespaced_config_map(f"seqmesh-algo-{name}", NS)
                            got_cm = time.perf_counter() - t0
                        except client.ApiException:
                            pass
                    if got_cm is not None and ready(co.get_namespaced_custom_object(*args, name)):
                        to_ready.append(time.perf_counter() - t0)
                        to_cm.append(got_cm)
                        break
                    if time.perf_counter() - t0 > 60:
                        raise TimeoutError(f"{name} not Ready in 60 s")
                    time.sleep(0.01)
            t0 = time.perf_counter()
            for i in range(bulk):
                co.create_namespaced_custom_object(*args, algo(f"bulk-{i}"))
            created = time.perf_counter() - t0
            while True:
                items = co.list_namespaced_custom_object(*args)["items"]
                done = sum(1 for o in items if o["metadata"]["name"].startswith("bulk-") and ready(o))
                if done == bulk:
                    break
                if time.perf_counter() - t0 > 300:
                    raise TimeoutError(f"only {done}/{bulk} Ready after 300 s")
                time.sleep(0.25)
            bulk_s = time.perf_counter() - t0
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(20)
            cp.stop()
    return {
        "apply_to_configmap_p50_ms": round(statistics.median(to_cm) * 1000, 1),
        "apply_to_ready_p50_ms": round(statistics.median(to_ready) * 1000, 1),
        "baseline_api_create_and_read_p50_ms": round(statistics.median(base) * 1000, 1),
        "ratio_ready_vs_api_round_trip": round(statistics.median(to_ready) / statistics.median(base), 1),
        "bulk_algos": bulk, "bulk_created_s": round(created, 1), "bulk_all_ready_s": round(bulk_s, 1),
        "goal_bulk_ready_s": 60,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
