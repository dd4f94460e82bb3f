"""Edge: its certificate (from the region's CA), StatefulSet and Service; then the region's CC
configuration, which lists its edges."""

from __future__ import annotations

from typing import Any

import kopf

from seqmesh.common.certs import Identity
from seqmesh.common.crds.models import GROUP, VERSION, EdgeSpec, RegionSpec

from .. import certs, conditions, kube, status, workload, wrapping
from ..builders import edge as edge_builder
from ..builders import names, netpol
from ..metrics import reconciling
from .common import apply_all, find_region, level_based, sync_region, sync_region_named


def sync_edge(body: dict[str, Any]) -> None:
    spec = EdgeSpec.model_validate(body["spec"])
    meta = body["metadata"]
    namespace, generation = meta["namespace"], int(meta.get("generation", 0))
    current = body.get("status") or {}
    region_body = find_region(namespace, spec.region)
    if region_body is None:
        # Progressing, not Degraded: applied together (GitOps), the Region may simply come later.
        status.write("Edge", meta["name"], namespace, current, {
            "observedGeneration": generation,
            "conditions": conditions.ready(current.get("conditions", []), False, "RegionNotFound",
                                           f"no Region {spec.region!r} in namespace {namespace}", generation,
                                           degraded=False)})
        return
    region = RegionSpec.model_validate(region_body["spec"])
    owner = kube.owner(body)
    labels = names.labels(spec.region, "edge", **{"seqmesh.io/venue": spec.venue})
    try:
        ca = certs.ensure_ca(spec.region, namespace, kube.owner(region_body), names.labels(spec.region, "cc"),
                             given=region.caSecret)
    except certs.CAUnavailable as exc:
        status.write("Edge", meta["name"], namespace, current, {
            "observedGeneration": generation,
            "conditions": conditions.ready(current.get("conditions", []), False, "CAUnavailable", str(exc),
                                           generation)})
        return
    keys = wrapping_keys(spec, meta, current, region, region_body)
    service = names.edge(spec.region, spec.venue)
    certs.ensure_leaf(names.edge_tls(spec.region, spec.venue), namespace, owner, ca,
                      Identity(spec.region, "edge", spec.venue), ("localhost", *names.service_dns(service, namespace)),
                      region.certificateLifetimeSeconds, labels)
    apply_all([*edge_builder.objects(spec, namespace, owner, region),
               netpol.edge(spec, namespace, owner)])
    kube.delete_owned("apps/v1", "Deployment", service, namespace, meta["uid"])  # before it had a claim
    sync_region(region_body)
    pod = workload.of_statefulset(namespace, service)
    ok, degraded, reason, message = pod.ready, pod.degraded, pod.reason, pod.message
    key_status: dict[str, Any] = {}
    if isinstance(keys, wrapping.WrappingKeysUnavailable):
        # A named Secret not there yet is awaited (the pod waits for it too); unusable keys need a change.
        ok, degraded, reason, message = False, keys.reason != "WrappingKeysSecretNotFound", keys.reason, str(keys)
    else:
        # The ids the pods hold (compare with GET /v1/credentials' wrapping_key_id when rotating).
        key_status["wrappingKeyIds"] = keys
    status.write("Edge", meta["name"], namespace, current, {
        "observedGeneration": generation, "certificateSecret": names.edge_tls(spec.region, spec.venue),
        "wrappingKeysSecret": edge_builder.wrapping_keys_secret(spec), **key_status,
        "service": f"{service}.{namespace}.svc:{names.EDGE_GRPC_PORT}", "readyReplicas": pod.ready_replicas,
        "conditions": conditions.ready(current.get("conditions", []), ok, reason, message, generation,
                                       degraded=degraded)})


def wrapping_keys(spec: EdgeSpec, meta: dict[str, Any], current: dict[str, Any], region: RegionSpec,
                  region_body: dict[str, Any]) -> list[str] | wrapping.WrappingKeysUnavailable:
    """Level the venue's wrapping keys (and rotate them if the Edge asks): their ids, or what is
    wrong with them.

    The operator's Secret belongs to the Region, not the Edge (an Edge deleted and made again keeps
    the keys), and is retained with the region's claims (`storage.retainOnDelete`): the credentials
    sealed on them open only with these keys. A retained Secret that disappears is not made again
    while this Edge's status remembers its keys."""
    name = edge_builder.wrapping_keys_secret(spec)
    owner = None if region.storage.retainOnDelete else kube.owner(region_body)
    remembered = owner is None and current.get("wrappingKeysSecret") == name
    labels = names.labels(spec.region, "wrapping-keys", **{"seqmesh.io/venue": spec.venue})
    try:
        return wrapping.level(name, bool(spec.wrappingKeysSecret), meta.get("annotations"), meta["namespace"],
                              owner, labels, list(current.get("wrappingKeyIds") or []) if remembered else [])
    except wrapping.WrappingKeysUnavailable as exc:
        return exc


level_based("edges", "Edge", sync_edge)


@kopf.on.delete(GROUP, VERSION, "edges", id="edge-delete", optional=True)
def removed(body: kopf.Body, **_: Any) -> None:
    """The region's CC configuration stops listing it (its own children go by garbage collection)."""
    sync_region_named(body["metadata"]["namespace"], body["spec"]["region"])


@kopf.on.event(GROUP, VERSION, "edges", annotations={wrapping.ROTATE_ANNOTATION: kopf.PRESENT}, id="edge-rotate-watch")
def rotation_requested(body: kopf.Body, type: str | None, **_: Any) -> None:
    """A rotation is asked for with an annotation, which kopf's change detection does not see (it
    skips its own prefix, seqmesh.io/): an event of an Edge whose request is not done yet levels it
    at once (the resync timer would, a minute later). The Secret records the requests done."""
    spec = EdgeSpec.model_validate(body["spec"])
    meta = body["metadata"]
    if type == "DELETED" or meta.get("deletionTimestamp") or spec.wrappingKeysSecret:
        return
    annotations = dict(meta.get("annotations") or {})
    if wrapping.pending(edge_builder.wrapping_keys_secret(spec), meta["namespace"], annotations):
        with reconciling("Edge"):
            sync_edge(dict(body))
