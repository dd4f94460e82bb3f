"""Edge -> the edge's Deployment and Service (its CC dials it; it accepts only that CC)."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import EdgeSpec

from . import names, workloads


def objects(spec: EdgeSpec, namespace: str, owner: dict[str, Any], image: str,
            durability: str = "power-loss") -> list[dict[str, Any]]:
    r, v = spec.region, spec.venue
    labels = names.labels(r, "edge", **{"seqmesh.io/venue": v})
    args = ["edge", "--venue", v, "--region", r, "--durability", durability,
            "--listen", f"0.0.0.0:{names.EDGE_GRPC_PORT}",
            "--ca", "/etc/seqmesh/tls/ca.crt", "--cert", "/etc/seqmesh/tls/tls.crt",
            "--key", "/etc/seqmesh/tls/tls.key",
            "--state-dir", "/var/lib/seqmesh", "--symbols", ",".join(spec.symbols),
            "--rate-limit", str(spec.rateLimitPerSecond)]
    if spec.exchangeId:
        args += ["--exchange", spec.exchangeId]
    if spec.simulatorUrl:
        args += ["--sim-url", spec.simulatorUrl]
    env = []
    if spec.credentialsSecret:
        env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": spec.credentialsSecret, "key": key}}}
               for var, key in (("SEQMESH_API_KEY", "apiKey"), ("SEQMESH_API_SECRET", "secret"))]
    container = workloads.container("edge", image, args, [("grpc", names.EDGE_GRPC_PORT)],
                                    [("tls", "/etc/seqmesh/tls"), ("state", "/var/lib/seqmesh")], env=env)
    name = names.edge(r, v)
    return [
        workloads.deployment(name, namespace, labels, owner, container,
                             [workloads.secret_volume("tls", names.edge_tls(r, v)), workloads.state_volume()]),
        workloads.service(name, namespace, labels, owner, name, [("grpc", names.EDGE_GRPC_PORT)]),
    ]
