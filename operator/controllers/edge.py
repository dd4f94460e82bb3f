"""Edge: its certificate (from the region's CA), StatefulSet and Service; then the region's CC
configuration, which lists its edges."""

from __future__ import annotations

from typing import Any

import kopf

from seqmesh.common.certs import Identity
from seqmesh.common.crds.models import GROUP, VERSION, EdgeSpec, RegionSpec

from .. import certs, conditions, kube, status, workload
from ..builders import edge as edge_builder
from ..builders import names, netpol
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
    service = names.edge(spec.region, spec.venue)
    certs.ensure_leaf(names.edge_tls(spec.region, spec.venue), namespace, owner, ca,
                      Identity(spec.region, "edge", spec.venue), ("localhost", *names.service_dns(service, namespace)),
                      region.certificateLifetimeSeconds, labels)
    apply_all([*edge_builder.objects(spec, namespace, owner, region),
               netpol.edge(spec, namespace, owner)])
    kube.delete_owned("apps/v1", "Deployment", service, namespace, meta["uid"])  # before it had a claim
    sync_region(region_body)
    pod = workload.of_statefulset(namespace, service)
    status.write("Edge", meta["name"], namespace, current, {
        "observedGeneration": generation, "certificateSecret": names.edge_tls(spec.region, spec.venue),
        "service": f"{service}.{namespace}.svc:{names.EDGE_GRPC_PORT}", "readyReplicas": pod.ready_replicas,
        "conditions": conditions.ready(current.get("conditions", []), pod.ready, pod.reason, pod.message, generation,
                                       degraded=pod.degraded)})


level_based("edges", "Edge", sync_edge)


@kopf.on.delete(GROUP, VERSION, "edges", id="edge-delete", optional=True)
def removed(body: kopf.Body, **_: Any) -> None:
    """The region's CC configuration stops listing it (its own children go by garbage collection)."""
    sync_region_named(body["metadata"]["namespace"], body["spec"]["region"])
