"""What several controllers need: finding a Region, and re-levelling its CC and its status."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import kopf
from kubernetes.dynamic.exceptions import NotFoundError
from pydantic import ValidationError

from seqmesh.common.certs import Identity
from seqmesh.common.crds.models import GROUP, VERSION, EdgeSpec, PeerLinkSpec, RegionSpec

from .. import certs, conditions, kube, status, workload
from ..builders import names, netpol
from ..builders import region as region_builder
from ..metrics import APPLIED, reconciling
from ..settings import SETTINGS

API_VERSION = f"{GROUP}/{VERSION}"

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def region_lock(namespace: str, region: str) -> threading.Lock:
    """One levelling of a region at a time (its own handlers, its Edges', PeerLinks' and the
    workload watch all level it; interleaved, two could issue two certificates)."""
    with _locks_guard:
        return _locks.setdefault(f"{namespace}/{region}", threading.Lock())


def find_region(namespace: str, region: str) -> dict[str, Any] | None:
    for body in kube.list_objects(API_VERSION, "Region", namespace):
        if body.get("spec", {}).get("region") == region or body["metadata"]["name"] == region:
            return body
    return None


def bodies(kind: str, model: Any, namespace: str, region: str) -> list[tuple[dict[str, Any], Any]]:
    """The live resources of `kind` that belong to `region`, with their parsed specs."""
    out = []
    for body in kube.list_objects(API_VERSION, kind, namespace):
        try:
            spec = model.model_validate(body.get("spec", {}))
        except ValidationError:
            continue  # the API server validated it; an older shape is reported by its own controller
        if spec.region == region and not body["metadata"].get("deletionTimestamp"):
            out.append((body, spec))
    return out


def specs(kind: str, model: Any, namespace: str, region: str) -> list[Any]:
    return [spec for _, spec in bodies(kind, model, namespace, region)]


def trusted_peers(namespace: str, region: str) -> list[PeerLinkSpec]:
    """PeerLinks whose CA bundle is usable: only those reach the CC's configuration."""
    return [p for p in specs("PeerLink", PeerLinkSpec, namespace, region) if certs.bundle_error(p.caBundle) is None]


def apply_all(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        action = kube.apply(obj)
        if action != "unchanged":
            APPLIED.labels(obj["kind"], action).inc()


def cc_hosts(spec: RegionSpec, namespace: str) -> tuple[str, ...]:
    """What the CC's certificate names: its Services as clients in the cluster dial them, and
    the addresses other regions dial (`peerAdvertise`), since a peer checks the name it dialled."""
    return ("localhost", *names.service_dns(names.api_service(spec.region), namespace),
            *names.service_dns(names.peer_service(spec.region), namespace), *spec.peerAdvertise)


def sync_region(body: dict[str, Any]) -> dict[str, Any]:
    """Level the whole region (CA, CC certificate, config, StatefulSet, Services); return its status."""
    spec = RegionSpec.model_validate(body["spec"])
    meta = body["metadata"]
    namespace, owner = meta["namespace"], kube.owner(body)
    labels = names.labels(spec.region, "cc")
    generation = int(meta.get("generation", 0))
    current = body.get("status") or {}
    with region_lock(namespace, spec.region):
        try:
            ca = certs.ensure_ca(spec.region, namespace, owner, labels, given=spec.caSecret)
        except certs.CAUnavailable as exc:
            desired = {"observedGeneration": generation, "conditions": conditions.ready(
                current.get("conditions", []), False, "CAUnavailable", str(exc), generation)}
            status.write("Region", meta["name"], namespace, current, desired)
            return desired
        leaf = certs.ensure_leaf(names.cc_tls(spec.region), namespace, owner, ca, Identity(spec.region, "cc", "main"),
                                 cc_hosts(spec, namespace), spec.certificateLifetimeSeconds, labels)
        edges = specs("Edge", EdgeSpec, namespace, spec.region)
        peers = trusted_peers(namespace, spec.region)
        objects = region_builder.objects(spec, namespace, owner, edges, peers)
        apply_all([*objects, netpol.cc(spec, namespace, owner, peers)])
        # The CC ran as a Deployment (on emptyDir) before it had a claim: one CC per region.
        kube.delete_owned("apps/v1", "Deployment", names.cc(spec.region), namespace, meta["uid"])
        config_hash = next(o for o in objects if o["kind"] == "StatefulSet")[
            "spec"]["template"]["metadata"]["annotations"][region_builder.CONFIG_HASH]
        cc = workload.of_statefulset(namespace, names.cc(spec.region))
        if not spec.apiKeysSecret:
            ok, degraded, reason = False, True, "NoAPIKeys"
            message = ("spec.apiKeysSecret is not set: the CC refuses to start without client API keys "
                       "(Helm value region.apiKeysSecret; a Secret of client id -> key)")
        elif kube.get("v1", "Secret", spec.apiKeysSecret, namespace) is None:
            # The pod waits for the Secret (it is not optional): say what it waits for.
            ok, degraded, reason = False, False, "APIKeysSecretNotFound"
            message = f"the CC's pod waits for Secret {spec.apiKeysSecret!r} (spec.apiKeysSecret) in {namespace}"
        else:
            ok, degraded, reason = cc.ready, cc.degraded, cc.reason
            message = f"CC Ready; {len(edges)} edges" if cc.ready else cc.message
        desired = {
            "observedGeneration": generation, "caSecret": spec.caSecret or names.ca_secret(spec.region),
            "ccCertificateSecret": names.cc_tls(spec.region),
            "certificateNotAfter": leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "apiEndpoint": f"https://{names.api_service(spec.region)}.{namespace}.svc:{spec.apiPort}",
            "edges": len(edges), "readyReplicas": cc.ready_replicas, "configHash": config_hash,
            "conditions": conditions.ready(current.get("conditions", []), ok, reason, message, generation,
                                           degraded=degraded),
        }
        status.write("Region", meta["name"], namespace, current, desired)
    return desired


def sync_region_named(namespace: str, region: str) -> None:
    """Level the named region if it is still there. One being deleted (its release uninstalled with
    its edges and PeerLinks) has nothing to level: a delete handler that failed on it was retried a
    minute later, and held the deletion that long."""
    body = find_region(namespace, region)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    try:
        sync_region(body)
    except NotFoundError:  # deleted between the read and the writes
        return


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
