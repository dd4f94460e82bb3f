"""Readiness flows back: a change to an owned StatefulSet or its pod re-levels the owner, so
`Ready` follows the pod (a CC Ready, crashing, rolling) without waiting for the resync timer;
the same for an Algo when its region's CC reports on the Algo's ConfigMap."""

from __future__ import annotations

from typing import Any

import kopf

from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec

from .. import kube
from ..builders.algo import ALGO_LABEL
from ..metrics import reconciling
from .algo import sync_algo
from .common import API_VERSION, bodies, find_region, sync_region
from .edge import sync_edge
from .peerlink import sync_peerlink

MANAGED = {"app.kubernetes.io/managed-by": "seqmesh-operator"}


def owner_changed(namespace: str, labels: dict[str, str]) -> None:
    region, component = labels.get("seqmesh.io/region"), labels.get("app.kubernetes.io/component")
    if not region:
        return
    if component == "cc":
        with reconciling("Region"):
            body = find_region(namespace, region)
            if body is not None:
                sync_region(body)
                # A PeerLink is Ready once the CC that dials it is: it follows the CC's pod too.
                for link, _ in bodies("PeerLink", PeerLinkSpec, namespace, region):
                    sync_peerlink(link, level_region=False)
    elif component == "edge":
        with reconciling("Edge"):
            for edge, spec in bodies("Edge", EdgeSpec, namespace, region):
                if spec.venue == labels.get("seqmesh.io/venue"):
                    sync_edge(edge)


@kopf.on.event("apps", "v1", "statefulsets", labels=MANAGED, id="statefulset-watch")
def statefulset_event(body: kopf.Body, namespace: str | None, **_: Any) -> None:
    if namespace and body.get("metadata", {}).get("labels"):
        owner_changed(namespace, dict(body["metadata"]["labels"]))


@kopf.on.event("", "v1", "pods", labels=MANAGED, id="pod-watch")
def pod_event(body: kopf.Body, namespace: str | None, **_: Any) -> None:
    """Pods too: a crash loop does not change the StatefulSet's status, only the pod's."""
    if namespace and body.get("metadata", {}).get("labels"):
        owner_changed(namespace, dict(body["metadata"]["labels"]))




@kopf.on.event("", "v1", "configmaps", labels={ALGO_LABEL: kopf.PRESENT}, id="algo-configmap-watch")
def algo_configmap_event(body: kopf.Body, namespace: str | None, **_: Any) -> None:
    """The region's CC writes each edge's state of an algo on its ConfigMap: the Algo follows."""
    name = (body.get("metadata", {}).get("labels") or {}).get(ALGO_LABEL)
    if namespace and name:
        with reconciling("Algo"):
            algo = kube.get(API_VERSION, "Algo", name, namespace)
            if algo is not None and not algo["metadata"].get("deletionTimestamp"):
                sync_algo(algo)
