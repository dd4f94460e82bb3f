"""`kubectl apply -f algo.yaml` ends with the algo running on its edges: the operator publishes
the ConfigMap, a real CC (watching the API server) deploys it to real edges trading simulators,
and the per-edge state comes back into the Algo's status."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from seqmesh.client.api import CCClient
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.algos import build
from seqmesh.testing.kube import NS, condition, get
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

VENUES = {"binance": ("0", "0.0008", "0.001"), "okx": ("0", "0.0010", "0.0011")}


def per_edge(cp: ControlPlane, name: str) -> dict[str, dict[str, Any]]:
    algo = get(cp, "algo", name) or {}
    return {e["edge"]: e for e in algo.get("status", {}).get("perEdge", [])}


def test_kubectl_apply_runs_the_algo_on_its_edges(operator: ControlPlane, tmp_path: Path) -> None:
    cp = operator
    region = Region(tmp_path, VENUES, region="t1", cc_args=("--watch-algos", NS))
    try:
        manifests: list[dict[str, Any]] = [
            {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Edge", "metadata": {"name": f"t1-{venue}"},
             "spec": {"region": "t1", "venue": venue, "symbols": ["BTC/USDT"]}} for venue in VENUES]
        wasm = build()["market-maker"].read_bytes()
        manifests.append({
            "apiVersion": "seqmesh.io/v1alpha1", "kind": "Algo", "metadata": {"name": "mm-t1"},
            "spec": {"region": "t1", "edges": ["t1-binance", "t1-okx"], "symbol": "BTC/USDT", "state": "Running",
                     "params": {"size_lots": "10", "half_spread_ticks": "50"},
                     "wasm": base64.b64encode(wasm).decode()}})
        path = tmp_path / "algo.yaml"
        path.write_text(yaml.safe_dump_all(manifests))
        cp.kubectl("apply", "-n", NS, "-f", str(path))

        wait_until(lambda: {e.get("state") for e in per_edge(cp, "mm-t1").values()} == {"Running"}
                   and condition(get(cp, "algo", "mm-t1"), "Deployed").get("status") == "True", 90,
                   interval=0.3, what="mm-t1 Running on both edges in its status")
        # The market maker quotes: its orders show in the status the CC reports.
        wait_until(lambda: all((e.get("orders") or 0) >= 2 for e in per_edge(cp, "mm-t1").values()), 60,
                   interval=0.3, what="quotes placed on both edges")
        with CCClient(region.api) as c:
            seen = c.algo("mm-t1")  # any client of the region sees the manifest's algo
            assert seen["source"] == "configmap/seqmesh-algo-mm-t1" and seen["owner"] == "kubernetes"
            assert {e["edge"] for e in seen["edges"]} == {"binance", "okx"}

            # Stopping it in the manifest stops it on the edges.
            cp.kubectl("patch", "algo", "mm-t1", "-n", NS, "--type=merge", "-p",
                       json.dumps({"spec": {"state": "Stopped"}}))
            wait_until(lambda: {e.get("state") for e in per_edge(cp, "mm-t1").values()} == {"Stopped"}, 60,
                       interval=0.3, what="mm-t1 Stopped on both edges")

            # A binary the CC cannot run is reported, and the running deployment is left alone.
            bad = base64.b64encode(b"\0asm\x01\0\0\0").decode()
            cp.kubectl("patch", "algo", "mm-t1", "-n", NS, "--type=merge", "-p", json.dumps({"spec": {"wasm": bad}}))
            wait_until(lambda: "missing exports" in condition(get(cp, "algo", "mm-t1"), "Deployed").get("message", ""),
                       60, interval=0.3, what="the refusal in the Algo's status")
            assert c.algo("mm-t1")["sha256"] == seen["sha256"]

            # Deleting the Algo garbage-collects its ConfigMap, and the CC removes it from the edges.
            cp.kubectl("delete", "algo", "mm-t1", "-n", NS)
            wait_until(lambda: c.algos() == [], 60, interval=0.3, what="the algo gone from the CC")
    finally:
        region.stop()
