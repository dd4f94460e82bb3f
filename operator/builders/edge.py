"""Edge -> the edge's StatefulSet (its journal on a claim) and Service (its CC dials it; it accepts only that CC)."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import EdgeSpec, RegionSpec

from . import names, workloads

TLS_DIR = "/etc/seqmesh/tls"
KEYPAIR_DIR = "/etc/seqmesh/solana"  # the Solana taker's keypair, from the credentials Secret
WRAPPING_KEYS_DIR = "/etc/seqmesh/wrapping-keys"  # the venue's wrapping keys, from their Secret


def wrapping_keys_secret(spec: EdgeSpec) -> str:
    """The Secret the edge's wrapping keys come from: the one the Edge names, or the operator's for its venue."""
    return spec.wrappingKeysSecret or names.wrapping_keys(spec.region, spec.venue)


def objects(spec: EdgeSpec, namespace: str, owner: dict[str, Any], region: RegionSpec) -> list[dict[str, Any]]:
    """The edge's StatefulSet and Service. A renewed certificate does not roll the pod: the edge
    reloads its rotated files."""
    r, v = spec.region, spec.venue
    labels = names.labels(r, "edge", **{"seqmesh.io/venue": v})
    args = ["edge", "--venue", v, "--region", r, "--durability", region.durability,
            "--listen", f"0.0.0.0:{names.EDGE_GRPC_PORT}",
            "--ca", f"{TLS_DIR}/ca.crt", "--cert", f"{TLS_DIR}/tls.crt", "--key", f"{TLS_DIR}/tls.key",
            "--state-dir", workloads.STATE_DIR, "--symbols", ",".join(spec.symbols),
            "--rate-limit", str(spec.rateLimitPerSecond)]
    if spec.exchangeId:
        args += ["--exchange", spec.exchangeId]
    if spec.simulatorUrl:
        args += ["--sim-url", spec.simulatorUrl, "--sim-dialect", spec.simulatorDialect]
    mounts = [("tls", TLS_DIR), (workloads.STATE_VOLUME, workloads.STATE_DIR)]
    volumes = [workloads.secret_volume("tls", names.edge_tls(r, v))]
    # Every kind of edge opens its clients' sealed credentials (API keys, wallets, keypairs) with
    # the venue's wrapping keys: read-only, from a Secret every edge of the venue shares; a key
    # added to it reaches the pod's files without a restart (the kubelet refreshes Secret volumes).
    args += ["--wrapping-keys", WRAPPING_KEYS_DIR]
    mounts.append(("wrapping-keys", WRAPPING_KEYS_DIR))
    volumes.append(workloads.secret_volume("wrapping-keys", wrapping_keys_secret(spec)))
    if spec.chain is not None:
        args += ["--chain-rpc", spec.chain.rpcUrl, "--router", spec.chain.router, "--slippage", spec.chain.slippage]
        if spec.chain.confirmations is not None:
            args += ["--confirmations", str(spec.chain.confirmations)]
    if spec.solana is not None:
        args += ["--solana-rpc", spec.solana.rpcUrl, "--solana-commitment", spec.solana.commitment]
        if spec.solana.rfqUrl:
            args += ["--solana-rfq", spec.solana.rfqUrl]
        if spec.credentialsSecret:
            args += ["--solana-keypair", f"{KEYPAIR_DIR}/keypair"]
            mounts.append(("solana-keypair", KEYPAIR_DIR))
            keypair = {"key": "keypair", "path": "keypair"}
            volumes.append({"name": "solana-keypair", "secret": {"secretName": spec.credentialsSecret,
                                                                 "defaultMode": 0o440, "items": [keypair]}})
    env = []
    if spec.credentialsSecret and spec.solana is None:
        keys = ((("SEQMESH_DEX_PRIVATE_KEY", "privateKey", False),) if spec.chain is not None else
                (("SEQMESH_API_KEY", "apiKey", False), ("SEQMESH_API_SECRET", "secret", False),
                 ("SEQMESH_API_PASSPHRASE", "passphrase", True)))  # a passphrase only where the venue has one
        env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": spec.credentialsSecret, "key": key,
                                                            **({"optional": True} if optional else {})}}}
               for var, key, optional in keys]
    # The gRPC port opens only once the venue's markets are loaded and its orders reconciled.
    container = workloads.container("edge", region.image, args, [("grpc", names.EDGE_GRPC_PORT)],
                                    mounts, env=env,
                                    probe=workloads.tcp_probe(names.EDGE_GRPC_PORT), resources=region.resources.edge)
    name = names.edge(r, v)
    return [
        workloads.statefulset(name, namespace, labels, owner, container, volumes, region.storage,
                              region.storage.edgeSize, name),
        workloads.service(name, namespace, labels, owner, name, [("grpc", names.EDGE_GRPC_PORT)]),
    ]
