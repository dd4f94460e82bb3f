"""Algo: its validated binary in a ConfigMap the CC watches; target edges and state in status."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import AlgoSpec

from .. import conditions, kube, status, wasm
from ..builders import algo as algo_builder
from ..builders import names
from .common import API_VERSION, apply_all, level_based


def sync_algo(body: dict[str, Any]) -> None:
    spec = AlgoSpec.model_validate(body["spec"])
    meta = body["metadata"]
    name, namespace, generation = meta["name"], meta["namespace"], int(meta.get("generation", 0))
    current = body.get("status") or {}
    try:
        binary = wasm.decode(spec.wasm)
    except wasm.InvalidWasm as exc:
        # The last good ConfigMap (if any) stays: a bad push never takes a running algo down.
        status.write("Algo", name, namespace, current, {
            "observedGeneration": generation, "ready": False,
            "conditions": conditions.ready(current.get("conditions", []), False, exc.reason, str(exc), generation)})
        return
    sha = wasm.digest(binary)
    apply_all([algo_builder.configmap(name, spec, namespace, kube.owner(body), binary, sha)])
    known = {e["metadata"]["name"] for e in kube.list_objects(API_VERSION, "Edge", namespace)}
    per_edge = [{"edge": e, "state": (spec.state if e in known else "EdgeNotFound")} for e in sorted(spec.edges)]
    missing = [e for e in spec.edges if e not in known]
    ok = not missing
    status.write("Algo", name, namespace, current, {
        "observedGeneration": generation, "state": spec.state, "edges": len(spec.edges) - len(missing),
        "ready": ok, "configMap": names.algo_configmap(name), "sha256": sha, "size": len(binary),
        "perEdge": per_edge,
        "conditions": conditions.ready(current.get("conditions", []), ok,
                                       "Published" if ok else "EdgeNotFound",
                                       f"binary published ({len(binary)} bytes)" if ok
                                       else f"unknown edges: {', '.join(sorted(missing))}", generation)})


level_based("algos", "Algo", sync_algo)
