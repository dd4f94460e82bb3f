"""A region from Helm on the development node, warm (binaries built, image cached): `helm install`
of charts/seqmesh (one region, its edge on a simulated venue that runs as a pod beforehand) to the
first order filled through the CC's Service; then the CC pod deleted to its API answering again
and to its first order filled (the StatefulSet's replacement on the same claim). Baseline in the
same run: a pod of the same image that only sleeps, applied to Ready (the node's own share of
any pod start). Needs root and hack/build-k8s.sh's `node` group; one node per machine.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.client.api import CCClient
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.helm_regions import HelmRegions, Venue, ns
from seqmesh.testing.kube import SEQMESH_IMAGE, load_seqmesh_image, scratch_namespace
from seqmesh.testing.processes import wait_until


def _filled(c: CCClient) -> bool:
    """One market order, if the CC takes it, filled; False while it cannot trade yet."""
    try:
        order = c.submit("BTC/USDT", "buy", "0.001")
        for _ in range(100):
            order = c.order(order["order_id"])
            if order["state"] in ("filled", "canceled", "rejected", "expired"):
                return bool(order["state"] == "filled")
            time.sleep(0.05)
    except Exception:  # not answering, or no live venue yet
        return False
    return False


def _answers(c: CCClient) -> bool:
    """A fresh connection each time: a kept-alive one to the deleted pod's address only times out."""
    try:
        with CCClient(str(c.http.base_url), timeout=2) as fresh:
            return bool(fresh.http.get("/healthz").status_code == 200)
    except Exception:
        return False


def _baseline_pod(cp: ControlPlane) -> float:
    with scratch_namespace(cp, "bench-baseline") as namespace:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper"}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": SEQMESH_IMAGE, "imagePullPolicy": "Never",
                            "command": ["sleep", "3600"],
                            "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}]}}
        t0 = time.perf_counter()
        cp.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
        cp.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/sleeper", "--timeout=180s", timeout=210)
        return time.perf_counter() - t0


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cp = ControlPlane(Path(tmp) / "cluster", node=True, wait_for_node=600)
        cp.start()
        try:
            load_seqmesh_image(cp)
            baseline = _baseline_pod(cp)
            regions = HelmRegions(cp, [Venue("binance", "na", ("BTC/USDT",), 1)], Path(tmp))
            regions.start_venues()
            try:
                t0 = time.perf_counter()
                regions.install()
                wait_until(lambda: cp.kubectl("get", "service", "seqmesh-na-api", "-n", ns("na"),
                                              check=False).returncode == 0, 300, interval=0.2, what="the API Service")
                with regions.client("na", timeout=5) as c:
                    wait_until(lambda: _filled(c), 600, interval=0.2, what="a first order filled")
                    install_to_fill = time.perf_counter() - t0
                    t1 = time.perf_counter()
                    cp.kubectl("delete", "pod", "seqmesh-na-cc-0", "-n", ns("na"), "--wait=false")
                    wait_until(lambda: not _answers(c), 120, interval=0.05, what="the old CC gone")
                    wait_until(lambda: _answers(c), 600, interval=0.1, what="the CC answering again")
                    api_back = time.perf_counter() - t1
                with regions.client("na", timeout=5) as c:
                    wait_until(lambda: _filled(c), 600, interval=0.2, what="an order filled after the restart")
                    fill_back = time.perf_counter() - t1
            finally:
                regions.uninstall()
        finally:
            cp.stop()
    return {"baseline_pod_apply_to_ready_s": round(baseline, 2),
            "helm_install_to_first_fill_s": round(install_to_fill, 2),
            "cc_pod_deleted_to_api_answering_s": round(api_back, 2),
            "cc_pod_deleted_to_first_fill_s": round(fill_back, 2),
            "ratio_install_to_fill_vs_baseline_pod": round(install_to_fill / baseline, 1),
            "ratio_cc_restart_to_api_vs_baseline_pod": round(api_back / baseline, 1)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
