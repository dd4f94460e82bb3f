"""What several controllers need: finding a Region, and re-levelling its CC configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf
from pydantic import ValidationError

from seqmesh.common.certs import Identity
from seqmesh.common.crds.models import GROUP, VERSION, EdgeSpec, PeerLinkSpec, RegionSpec

from .. import certs, conditions, kube, status
from ..builders import names
from ..builders import region as region_builder
from ..metrics import APPLIED, reconciling
from ..settings import SETTINGS

API_VERSION = f"{GROUP}/{VERSION}"


def find_region(namespace: str, region: str) -> dict[str, Any] | None:
    for body in kube.list_objects(API_VERSION, "Region", namespace):
        if body.get("spec", {}).get("region") == region or body["metadata"]["name"] == region:
            return body
    return None


def specs(kind: str, model: Any, namespace: str, region: str) -> list[Any]:
    out = []
    for body in kube.list_objects(API_VERSION, kind, namespace):
        try:
            spec = model.model_validate(body.get("spec", {}))
        except ValidationError:
            continue  # the API server validated it; an older shape is reported by its own controller
        if spec.region == region and not body["metadata"].get("deletionTimestamp"):
            out.append(spec)
    return out


def apply_all(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        action = kube.apply(obj)
        if action != "unchanged":
            APPLIED.labels(obj["kind"], action).inc()


def sync_region(body: dict[str, Any]) -> dict[str, Any]:
    """Level the whole region (CA, CC certificate, config, Deployment, Services); return its status."""
    spec = RegionSpec.model_validate(body["spec"])
    meta = body["metadata"]
    namespace, owner = meta["namespace"], kube.owner(body)
    labels = names.labels(spec.region, "cc")
    ca = certs.ensure_ca(spec.region, namespace, owner, labels)
    dns = tuple(f"{svc}.{namespace}.svc" for svc in (names.api_service(spec.region), names.peer_service(spec.region)))
    leaf = certs.ensure_leaf(names.cc_tls(spec.region), namespace, owner, ca, Identity(spec.region, "cc", "main"),
                             ("localhost", *dns), spec.certificateLifetimeSeconds, labels)
    edges = specs("Edge", EdgeSpec, namespace, spec.region)
    peers = specs("PeerLink", PeerLinkSpec, namespace, spec.region)
    apply_all(region_builder.objects(spec, namespace, owner, edges, peers))
    generation = int(meta.get("generation", 0))
    current = body.get("status") or {}
    desired = {
        "observedGeneration": generation, "caSecret": names.ca_secret(spec.region),
        "ccCertificateSecret": names.cc_tls(spec.region),
        "certificateNotAfter": leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "apiEndpoint": f"http://{names.api_service(spec.region)}.{namespace}.svc:{spec.apiPort}",
        "edges": len(edges),
        "conditions": conditions.ready(current.get("conditions", []), True, "Reconciled",
                                       f"CC, services and certificates in place; {len(edges)} edges", generation),
    }
    status.write("Region", meta["name"], namespace, current, desired)
    return desired


def sync_region_named(namespace: str, region: str) -> None:
    body = find_region(namespace, region)
    if body is not None:
        sync_region(body)


def level_based(plural: str, kind: str, sync: Callable[[dict[str, Any]], object]) -> None:
    """Register `sync` for a kind the level-based way: on resume, create and spec changes, and on
    a resync timer that renews certificates and corrects drift."""
    prefix = kind.lower()

    def reconcile(body: kopf.Body, **_: Any) -> None:
        with reconciling(kind):
            sync(dict(body))

    kopf.on.resume(GROUP, VERSION, plural, id=f"{prefix}-resume")(reconcile)
    kopf.on.create(GROUP, VERSION, plural, id=f"{prefix}-create")(reconcile)
    kopf.on.update(GROUP, VERSION, plural, field="spec", id=f"{prefix}-update")(reconcile)
    kopf.timer(GROUP, VERSION, plural, interval=SETTINGS.resync_s, initial_delay=SETTINGS.resync_s,
               id=f"{prefix}-resync")(reconcile)
