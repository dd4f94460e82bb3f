"""Names and labels of everything the operator creates (one place, so they never drift apart)."""

from __future__ import annotations

EDGE_GRPC_PORT = 50051


def service_dns(service: str, namespace: str) -> tuple[str, ...]:
    """Every name a client in the cluster may dial a Service by (a certificate names them all)."""
    return (service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local")


def labels(region: str, component: str, **extra: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "seqmesh", "app.kubernetes.io/managed-by": "seqmesh-operator",
            "app.kubernetes.io/component": component, "seqmesh.io/region": region, **extra}


def ca_secret(region: str) -> str:
    return f"seqmesh-{region}-ca"


def cc(region: str) -> str:
    return f"seqmesh-{region}-cc"


def cc_tls(region: str) -> str:
    return f"seqmesh-{region}-cc-tls"


def cc_config(region: str) -> str:
    return f"seqmesh-{region}-cc-config"


def api_service(region: str) -> str:
    return f"seqmesh-{region}-api"


def peer_service(region: str) -> str:
    return f"seqmesh-{region}-peer"


def edge(region: str, venue: str) -> str:
    return f"seqmesh-{region}-edge-{venue}"


def edge_tls(region: str, venue: str) -> str:
    return f"seqmesh-{region}-edge-{venue}-tls"


def wrapping_keys(region: str, venue: str) -> str:
    """The Secret of a venue's wrapping keys: one per region and venue, whatever Edge runs it."""
    return f"seqmesh-{region}-{venue}-wrapping"


def algo_configmap(name: str) -> str:
    return f"seqmesh-algo-{name}"


def peer_configmap(region: str, remote: str) -> str:
    return f"seqmesh-{region}-peer-{remote}"
