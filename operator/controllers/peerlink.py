"""PeerLink: the remote endpoint and CA bundle for the region's CC."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import PeerLinkSpec

from .. import conditions, kube, status
from ..builders import names
from ..builders import peerlink as peer_builder
from .common import apply_all, level_based, sync_region_named


def sync_peerlink(body: dict[str, Any]) -> None:
    spec = PeerLinkSpec.model_validate(body["spec"])
    meta = body["metadata"]
    namespace, generation = meta["namespace"], int(meta.get("generation", 0))
    apply_all([peer_builder.configmap(spec, namespace, kube.owner(body))])
    sync_region_named(namespace, spec.region)
    current = body.get("status") or {}
    status.write("PeerLink", meta["name"], namespace, current, {
        "observedGeneration": generation, "configMap": names.peer_configmap(spec.region, spec.remoteRegion),
        "conditions": conditions.ready(current.get("conditions", []), True, "Reconciled",
                                       f"peer {spec.remoteRegion} at {spec.endpoint}", generation)})


level_based("peerlinks", "PeerLink", sync_peerlink)
