"""Reading seqmesh resources from a test control plane with kubectl."""

from __future__ import annotations

import json
from typing import Any

from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.processes import wait_until

NS = "default"


def get(cp: ControlPlane, kind: str, name: str) -> dict[str, Any] | None:
    r = cp.kubectl("get", kind, name, "-n", NS, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return {}


def wait_ready(cp: ControlPlane, kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def ready() -> bool:
        box["obj"] = get(cp, kind, name)
        c = condition(box["obj"], "Ready")
        return c.get("status") == "True" and box["obj"]["status"].get("observedGeneration") == \
            box["obj"]["metadata"]["generation"]

    wait_until(ready, timeout, interval=0.2, what=f"{kind}/{name} Ready")
    obj: dict[str, Any] = box["obj"]
    return obj
