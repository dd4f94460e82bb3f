"""Algo: its validated binary in a ConfigMap the CC watches; target edges and state in status."""

from __future__ import annotations

import json
from typing import Any

from seqmesh.common.crds.models import AlgoSpec

from .. import conditions, kube, status, wasm
from ..builders import algo as algo_builder
from ..builders import names
from .common import API_VERSION, apply_all, level_based

STATUS_ANNOTATION = "seqmesh.io/status"  # written by the CC


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
            "conditions": conditions.ready(conditions.merge(current.get("conditions", []), "Published", False,
                                                            exc.reason, str(exc), generation),
                                           False, exc.reason, str(exc), generation)})
        return
    sha = wasm.digest(binary)
    known = {e["metadata"]["name"]: e["spec"]["venue"] for e in kube.list_objects(API_VERSION, "Edge", namespace)}
    missing = sorted(e for e in spec.edges if e not in known)
    venues = [known[e] for e in spec.edges if e in known]
    apply_all([algo_builder.configmap(name, spec, namespace, kube.owner(body), binary, sha, venues)])
    reported = _reported(namespace, names.algo_configmap(name))
    by_venue = {e.get("edge"): e for e in reported.get("edges", [])}
    per_edge = []
    for edge in sorted(spec.edges):
        if edge not in known:
            per_edge.append({"edge": edge, "state": "EdgeNotFound"})
            continue
        seen = by_venue.get(known[edge]) or {"state": "Pending", "reason": reported.get("error")
                                             or "waiting for the region's CC"}
        per_edge.append({k: v for k, v in {**seen, "edge": edge}.items() if v is not None})
    published = not missing
    deployed = published and all(e["state"] == spec.state for e in per_edge)
    rejected = "error" in reported
    conds = conditions.merge(current.get("conditions", []), "Published", published,
                             "Published" if published else "EdgeNotFound",
                             f"binary published ({len(binary)} bytes)" if published
                             else f"unknown edges: {', '.join(missing)}", generation)
    deployed_message = (f"{spec.state} on all {len(per_edge)} edges" if deployed
                        else reported.get("error") or f"{sum(e['state'] == spec.state for e in per_edge)}/"
                                                      f"{len(per_edge)} edges {spec.state}")
    deployed_reason = "AllEdges" if deployed else ("Rejected" if rejected else
                                                   "EdgeNotFound" if missing else "Pending")
    conds = conditions.merge(conds, "Deployed", deployed, deployed_reason, deployed_message, generation)
    # Ready: in its wanted state on every edge. Degraded: the region's CC refused the module
    # (the running version stays); unknown edges or edges still starting are progress.
    conds = conditions.ready(conds, deployed, deployed_reason, deployed_message, generation, degraded=rejected)
    status.write("Algo", name, namespace, current, {
        "observedGeneration": generation, "state": spec.state, "edges": len(spec.edges) - len(missing),
        "ready": deployed, "configMap": names.algo_configmap(name), "sha256": sha, "size": len(binary),
        "perEdge": per_edge, "conditions": conds})


def _reported(namespace: str, configmap: str) -> dict[str, Any]:
    """What the region's CC wrote back on the ConfigMap (empty until it has seen it)."""
    live = kube.get("v1", "ConfigMap", configmap, namespace)
    text = ((live or {}).get("metadata", {}).get("annotations") or {}).get(STATUS_ANNOTATION)
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


level_based("algos", "Algo", sync_algo)
