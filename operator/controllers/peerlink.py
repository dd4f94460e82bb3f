"""PeerLink: the remote endpoint and CA bundle for the region's CC (mounted into its pod)."""

from __future__ import annotations

from typing import Any

import kopf

from seqmesh.common.crds.models import GROUP, VERSION, PeerLinkSpec

from .. import certs, conditions, kube, status, workload
from ..builders import names
from ..builders import peerlink as peer_builder
from .common import apply_all, find_region, level_based, sync_region, sync_region_named


def sync_peerlink(body: dict[str, Any], level_region: bool = True) -> None:
    """`level_region`: also re-level the region's CC (not when the region's own levelling asks)."""
    spec = PeerLinkSpec.model_validate(body["spec"])
    meta = body["metadata"]
    namespace, generation = meta["namespace"], int(meta.get("generation", 0))
    current = body.get("status") or {}
    bad_ca = certs.bundle_error(spec.caBundle)
    if bad_ca is None:
        apply_all([peer_builder.configmap(spec, namespace, kube.owner(body))])
    region_body = find_region(namespace, spec.region)
    if region_body is not None and level_region:
        sync_region(region_body)  # a bad bundle leaves (or stays out of) the CC's configuration
    if bad_ca is not None:
        ok, degraded, reason, message = False, True, "InvalidCABundle", bad_ca
    elif region_body is None:
        ok, degraded, reason = False, False, "RegionNotFound"
        message = f"no Region {spec.region!r} in namespace {namespace}"
    else:
        cc = workload.of_statefulset(namespace, names.cc(spec.region))
        ok, degraded, reason = cc.ready, cc.degraded, cc.reason
        message = (f"peer {spec.remoteRegion} at {spec.endpoint} in the configuration of the Ready CC "
                   f"(the link itself: GET /v1/peers)" if cc.ready else f"the region's CC: {cc.message}")
    status.write("PeerLink", meta["name"], namespace, current, {
        "observedGeneration": generation, "configMap": names.peer_configmap(spec.region, spec.remoteRegion),
        "conditions": conditions.ready(current.get("conditions", []), ok, reason, message, generation,
                                       degraded=degraded)})


level_based("peerlinks", "PeerLink", sync_peerlink)


@kopf.on.delete(GROUP, VERSION, "peerlinks", id="peerlink-delete", optional=True)
def removed(body: kopf.Body, **_: Any) -> None:
    """The region's CC stops dialling it (its ConfigMap goes by garbage collection)."""
    sync_region_named(body["metadata"]["namespace"], body["spec"]["region"])
