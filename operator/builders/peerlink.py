"""PeerLink -> the peer's endpoint and CA bundle as a ConfigMap the CC mounts."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import PeerLinkSpec

from . import names


def configmap(spec: PeerLinkSpec, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": names.peer_configmap(spec.region, spec.remoteRegion), "namespace": namespace,
                     "labels": names.labels(spec.region, "peer", **{"seqmesh.io/remote-region": spec.remoteRegion}),
                     "ownerReferences": [owner]},
        "data": {"endpoint": spec.endpoint, "ca.crt": spec.caBundle, "remoteRegion": spec.remoteRegion,
                 "rttProbeSeconds": str(spec.rttProbeSeconds)},
    }
