"""Region -> the CC's StatefulSet, Services (client REST, peer gRPC) and runtime configuration."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec, RegionSpec

from . import names, workloads

CONFIG_DIR = "/etc/seqmesh/config"
TLS_DIR = "/etc/seqmesh/tls"
PEER_CA_DIR = "/etc/seqmesh/peers"
API_KEYS_DIR = "/etc/seqmesh/api-keys"
API_TLS_DIR = "/etc/seqmesh/api-tls"
#: Pod template annotation: a hash of everything the CC reads only at start (its configuration),
#: so a change rolls the pod. Certificates and CA bundles are not in it: the CC reloads their
#: files when they rotate.
CONFIG_HASH = "seqmesh.io/config-sha256"


def cc_config(spec: RegionSpec, namespace: str, edges: list[EdgeSpec], peers: list[PeerLinkSpec]) -> dict[str, Any]:
    """What the CC reads at start: its edges (by Service DNS name), peers and their CAs, risk limits."""
    peers = sorted(peers, key=lambda p: p.remoteRegion)
    cfg: dict[str, Any] = {
        "region": spec.region,
        "listen_http": f"0.0.0.0:{spec.apiPort}",
        "listen_peer": f"0.0.0.0:{spec.peerPort}",
        "edges": [{"venue": e.venue, "address": f"{names.edge(spec.region, e.venue)}.{namespace}.svc:"
                                                 f"{names.EDGE_GRPC_PORT}"}
                  for e in sorted(edges, key=lambda e: e.venue)],
        "peers": [{"region": p.remoteRegion, "endpoint": p.endpoint, "ca": f"{PEER_CA_DIR}/{p.remoteRegion}.crt"}
                  for p in peers],
        "ca": f"{TLS_DIR}/ca.crt", "cert": f"{TLS_DIR}/tls.crt", "key": f"{TLS_DIR}/tls.key",
        # The REST API leaves the pod: HTTPS, with the region CA's certificate of the CC or the Secret named.
        "api_tls": {"cert": f"{api_tls_dir(spec)}/tls.crt", "key": f"{api_tls_dir(spec)}/tls.key"},
        "db_path": f"{workloads.STATE_DIR}/ledger.sqlite",
        "watch_algos_namespace": namespace,
        "durability": spec.durability,
        # Keys come from the Region's Secret; without one the CC refuses to start rather than
        # fall back to the well-known development key.
        "require_api_keys": True,
    }
    if peers:
        # The CC probes every peer at one interval: the most frequent any PeerLink asks for.
        cfg["peer_probe_s"] = min(p.rttProbeSeconds for p in peers)
    if spec.risk is not None:
        risk = {k: v for k, v in {"max_order_notional": spec.risk.maxOrderNotional,
                                  "daily_loss_limit": spec.risk.dailyLossLimit,
                                  "max_orders_per_s": spec.risk.maxOrdersPerSecond}.items() if v is not None}
        cfg["risk"] = risk
    return cfg


def api_tls_dir(spec: RegionSpec) -> str:
    return API_TLS_DIR if spec.apiTlsSecret else TLS_DIR


def config_hash(config_json: str) -> str:
    return hashlib.sha256(config_json.encode()).hexdigest()


def cc_env(spec: RegionSpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if spec.apiKeysSecret:
        env.append({"name": "SEQMESH_API_KEYS_DIR", "value": API_KEYS_DIR})
    if spec.ledgerUrlSecret:
        env.append({"name": "SEQMESH_LEDGER_URL", "valueFrom": {"secretKeyRef": {
            "name": spec.ledgerUrlSecret.name, "key": spec.ledgerUrlSecret.key}}})
    return env


def objects(spec: RegionSpec, namespace: str, owner: dict[str, Any], edges: list[EdgeSpec],
            peers: list[PeerLinkSpec]) -> list[dict[str, Any]]:
    """`peers` are the PeerLinks whose CA bundle is valid."""
    r = spec.region
    labels = names.labels(r, "cc")
    config_json = json.dumps(cc_config(spec, namespace, edges, peers), indent=2, sort_keys=True)
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": names.cc_config(r), "namespace": namespace, "labels": labels,
                           "ownerReferences": [owner]},
              "data": {"config.json": config_json}}
    mounts = [("tls", TLS_DIR), ("config", CONFIG_DIR), (workloads.STATE_VOLUME, workloads.STATE_DIR)]
    volumes = [workloads.secret_volume("tls", names.cc_tls(r)),
               workloads.configmap_volume("config", names.cc_config(r))]
    if peers:
        mounts.append(("peer-cas", PEER_CA_DIR))
        volumes.append(workloads.projected_configmaps_volume(
            "peer-cas", [(names.peer_configmap(r, p.remoteRegion), "ca.crt", f"{p.remoteRegion}.crt")
                         for p in sorted(peers, key=lambda p: p.remoteRegion)]))
    if spec.apiKeysSecret:
        mounts.append(("api-keys", API_KEYS_DIR))
        volumes.append(workloads.secret_volume("api-keys", spec.apiKeysSecret))
    if spec.apiTlsSecret:
        mounts.append(("api-tls", API_TLS_DIR))
        volumes.append(workloads.secret_volume("api-tls", spec.apiTlsSecret))
    container = workloads.container(
        "cc", spec.image, ["cc", "--config", f"{CONFIG_DIR}/config.json"],
        [("api", spec.apiPort), ("peer", spec.peerPort)], mounts, env=cc_env(spec),
        probe=workloads.http_probe("/healthz", spec.apiPort, https=True), resources=spec.resources.cc)
    meta = {"name": names.cc(r), "namespace": namespace, "labels": labels, "ownerReferences": [owner]}
    # The CC watches its region's Algo ConfigMaps and writes their status annotation: nothing more.
    account: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names.cc(r)},
         "subjects": [{"kind": "ServiceAccount", "name": names.cc(r), "namespace": namespace}]},
    ]
    annotations = {CONFIG_HASH: config_hash(config_json)}
    return [
        config,
        *account,
        workloads.statefulset(names.cc(r), namespace, labels, owner, container, volumes, spec.storage,
                              spec.storage.ccSize, names.api_service(r), annotations, service_account=names.cc(r)),
        workloads.service(names.api_service(r), namespace, labels, owner, names.cc(r), [("api", spec.apiPort)]),
        workloads.service(names.peer_service(r), namespace, labels, owner, names.cc(r), [("peer", spec.peerPort)]),
    ]
