"""Region -> the CC's Deployment, Services (client REST, peer gRPC) and runtime configuration."""

from __future__ import annotations

import json
from typing import Any

from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec, RegionSpec

from . import names, workloads


def cc_config(spec: RegionSpec, namespace: str, edges: list[EdgeSpec], peers: list[PeerLinkSpec]) -> dict[str, Any]:
    """What the CC reads at start: its edges (by Service DNS name), peers and risk limits."""
    cfg: dict[str, Any] = {
        "region": spec.region,
        "listen_http": f"0.0.0.0:{spec.apiPort}",
        "edges": [{"venue": e.venue, "address": f"{names.edge(spec.region, e.venue)}.{namespace}.svc:"
                                                 f"{names.EDGE_GRPC_PORT}"}
                  for e in sorted(edges, key=lambda e: e.venue)],
        "peers": [{"region": p.remoteRegion, "endpoint": p.endpoint}
                  for p in sorted(peers, key=lambda p: p.remoteRegion)],
        "ca": "/etc/seqmesh/tls/ca.crt", "cert": "/etc/seqmesh/tls/tls.crt", "key": "/etc/seqmesh/tls/tls.key",
        "db_path": "/var/lib/seqmesh/ledger.sqlite",
        "watch_algos_namespace": namespace,
        "durability": spec.durability,
    }
    if spec.risk is not None:
        risk = {k: v for k, v in {"max_order_notional": spec.risk.maxOrderNotional,
                                  "daily_loss_limit": spec.risk.dailyLossLimit,
                                  "max_orders_per_s": spec.risk.maxOrdersPerSecond}.items() if v is not None}
        cfg["risk"] = risk
    return cfg


def objects(spec: RegionSpec, namespace: str, owner: dict[str, Any], edges: list[EdgeSpec],
            peers: list[PeerLinkSpec]) -> list[dict[str, Any]]:
    r = spec.region
    labels = names.labels(r, "cc")
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": names.cc_config(r), "namespace": namespace, "labels": labels,
                           "ownerReferences": [owner]},
              "data": {"config.json": json.dumps(cc_config(spec, namespace, edges, peers), indent=2, sort_keys=True)}}
    env = []
    if spec.apiKeysSecret:
        env.append({"name": "SEQMESH_API_KEYS_DIR", "value": "/etc/seqmesh/api-keys"})
    container = workloads.container(
        "cc", spec.image, ["cc", "--config", "/etc/seqmesh/config/config.json"],
        [("api", spec.apiPort), ("peer", spec.peerPort)],
        [("tls", "/etc/seqmesh/tls"), ("config", "/etc/seqmesh/config"), ("state", "/var/lib/seqmesh")],
        env=env, http_health=("/healthz", spec.apiPort))
    volumes = [workloads.secret_volume("tls", names.cc_tls(r)),
               workloads.configmap_volume("config", names.cc_config(r)), workloads.state_volume()]
    if spec.apiKeysSecret:
        container["volumeMounts"].append({"name": "api-keys", "mountPath": "/etc/seqmesh/api-keys", "readOnly": True})
        volumes.append(workloads.secret_volume("api-keys", spec.apiKeysSecret))
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
    return [
        config,
        *account,
        workloads.deployment(names.cc(r), namespace, labels, owner, container, volumes, service_account=names.cc(r)),
        workloads.service(names.api_service(r), namespace, labels, owner, names.cc(r), [("api", spec.apiPort)]),
        workloads.service(names.peer_service(r), namespace, labels, owner, names.cc(r), [("peer", spec.peerPort)]),
    ]
