"""Algo -> a ConfigMap holding the .wasm in binaryData, labelled for the CC's watch."""

from __future__ import annotations

import base64
import json
from typing import Any

from seqmesh.common.crds.models import AlgoSpec

from . import names

ALGO_LABEL = "seqmesh.io/algo"


def configmap(name: str, spec: AlgoSpec, namespace: str, owner: dict[str, Any], wasm: bytes,
              sha256: str, venues: list[str]) -> dict[str, Any]:
    """`venues` are the venues of the spec's Edge resources: what the CC knows its edges by."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": names.algo_configmap(name), "namespace": namespace,
                     "labels": names.labels(spec.region, "algo", **{ALGO_LABEL: name}),
                     "annotations": {"seqmesh.io/sha256": sha256}, "ownerReferences": [owner]},
        "binaryData": {"algo.wasm": base64.b64encode(wasm).decode()},
        "data": {"edges": json.dumps(sorted(spec.edges)), "venues": json.dumps(sorted(venues)), "state": spec.state,
                 "symbol": spec.symbol, "sha256": sha256, "params": json.dumps(spec.params, sort_keys=True)},
    }
