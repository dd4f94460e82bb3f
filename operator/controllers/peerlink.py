"""PeerLink: the remote endpoint and CA bundle for the region's CC."""

from __future__ import annotations

from typing import Any

import kopf

from seqmesh.common.crds.models import GROUP, VERSION, PeerLinkSpec

from .. import conditions, kube, status
from ..builders import names
from ..builders import peerlink as peer_builder
from ..metrics import reconciling
from ..settings import SETTINGS
from .common import apply_all, sync_region_named


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


@kopf.on.resume(GROUP, VERSION, "peerlinks", id="peerlink-resume")
@kopf.on.create(GROUP, VERSION, "peerlinks", id="peerlink-create")
@kopf.on.update(GROUP, VERSION, "peerlinks", field="spec", id="peerlink-update")
def reconcile(body: kopf.Body, **_: Any) -> None:
    with reconciling("PeerLink"):
        sync_peerlink(dict(body))


@kopf.timer(GROUP, VERSION, "peerlinks", interval=SETTINGS.resync_s, initial_delay=SETTINGS.resync_s,
            id="peerlink-resync")
def resync(body: kopf.Body, **_: Any) -> None:
    with reconciling("PeerLink"):
        sync_peerlink(dict(body))
