"""NetworkPolicies: the network's half of the rule that mTLS enforces on every link.

An edge pod accepts connections only from its region's CC pod (on its gRPC port). A CC pod
accepts its clients on the REST port from anywhere (an ingress controller or load balancer in
front of it, whose addresses the operator cannot know; the API authenticates every request, and
Prometheus scrapes `/metrics` on that port), and on its peer port only its PeerLinks' remote
CCs: the remote region's CC pod in any namespace of this cluster, and the addresses a PeerLink
names in `sourceCIDRs` (a region in another cluster, as this one sees its connections). The
CC dials its edges, never the reverse: replies are allowed by the connection's state, so the
CC needs no rule for them. Only ingress is restricted.
"""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec, RegionSpec

from . import names


def _pod(instance: str) -> dict[str, Any]:
    """The selector of the one pod of a StatefulSet the operator made (`workloads.statefulset`)."""
    return {"matchLabels": {"app.kubernetes.io/name": "seqmesh", "app.kubernetes.io/instance": instance}}


def _remote_cc(region: str) -> dict[str, Any]:
    """Another region's CC pod, in whatever namespace of this cluster it runs."""
    return {"namespaceSelector": {},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "seqmesh",
                                            "app.kubernetes.io/component": "cc", "seqmesh.io/region": region}}}


def _tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


def _policy(name: str, namespace: str, labels: dict[str, str], owner: dict[str, Any], pod: str,
            ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "spec": {"podSelector": _pod(pod), "policyTypes": ["Ingress"], "ingress": ingress},
    }


def edge(spec: EdgeSpec, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    """The edge's pod: its gRPC port from its region's CC pod, nothing else."""
    r, v = spec.region, spec.venue
    labels = names.labels(r, "edge", **{"seqmesh.io/venue": v})
    rule = {"from": [{"podSelector": _pod(names.cc(r))}], "ports": _tcp(names.EDGE_GRPC_PORT)}
    return _policy(names.edge(r, v), namespace, labels, owner, names.edge(r, v), [rule])


def cc(spec: RegionSpec, namespace: str, owner: dict[str, Any], peers: list[PeerLinkSpec]) -> dict[str, Any]:
    """The CC's pod: clients on the REST port; on the peer port only the CCs of `peers` (the
    PeerLinks whose CA is trusted), so without a PeerLink the peer port takes no connection."""
    r = spec.region
    ingress: list[dict[str, Any]] = [{"ports": _tcp(spec.apiPort)}]  # no `from`: any source
    sources: list[dict[str, Any]] = []
    for peer in sorted(peers, key=lambda p: p.remoteRegion):
        sources.append(_remote_cc(peer.remoteRegion))
        sources += [{"ipBlock": {"cidr": cidr}} for cidr in peer.sourceCIDRs]
    if sources:
        ingress.append({"from": sources, "ports": _tcp(spec.peerPort)})
    return _policy(names.cc(r), namespace, names.labels(r, "cc"), owner, names.cc(r), ingress)
