"""The region CA and leaf certificates, kept in Secrets and renewed at 2/3 of their lifetime."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from typing import Any

from seqmesh.common.certs import Identity, KeyPair, issue_leaf, make_ca, needs_renewal

from . import kube
from .metrics import RENEWALS

CA_LIFETIME = dt.timedelta(days=3650)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pair(secret: dict[str, Any] | None) -> KeyPair | None:
    if not secret or not secret.get("data"):
        return None
    data = secret["data"]
    try:
        return KeyPair(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
    except (KeyError, ValueError):
        return None


def _secret(name: str, namespace: str, owner: dict[str, Any], pair: KeyPair, ca_pem: bytes,
            labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner], "labels": labels},
            "data": {"tls.crt": _b64(pair.cert_pem), "tls.key": _b64(pair.key_pem), "ca.crt": _b64(ca_pem)}}


_ca_locks: dict[str, threading.Lock] = {}
_ca_locks_guard = threading.Lock()


def ensure_ca(region: str, namespace: str, owner: dict[str, Any], labels: dict[str, str]) -> KeyPair:
    """The region's CA: created once (the Region's and its Edges' handlers may race for it;
    the first to create the Secret wins and everyone uses that one)."""
    name = f"seqmesh-{region}-ca"
    with _ca_locks_guard:
        lock = _ca_locks.setdefault(f"{namespace}/{name}", threading.Lock())
    with lock:
        pair = _pair(kube.get("v1", "Secret", name, namespace))
        if pair is None:
            fresh = make_ca(f"seqmesh {region} CA", CA_LIFETIME)
            pair = _pair(kube.create_or_get(_secret(name, namespace, owner, fresh, fresh.cert_pem, labels)))
            RENEWALS.labels("ca").inc()
        elif needs_renewal(pair.cert):
            pair = make_ca(f"seqmesh {region} CA", CA_LIFETIME)
            kube.apply(_secret(name, namespace, owner, pair, pair.cert_pem, labels))
            RENEWALS.labels("ca").inc()
    assert pair is not None
    return pair


def ensure_leaf(name: str, namespace: str, owner: dict[str, Any], ca: KeyPair, identity: Identity,
                dns_names: tuple[str, ...], lifetime_s: int, labels: dict[str, str]) -> KeyPair:
    """Issue (or keep) a leaf; re-issue when due, or when it was not signed by the current CA."""
    live = kube.get("v1", "Secret", name, namespace)
    pair = _pair(live)
    stale = (pair is None or needs_renewal(pair.cert) or pair.cert.issuer != ca.cert.subject
             or base64.b64decode((live or {}).get("data", {}).get("ca.crt", "")) != ca.cert_pem)
    if stale:
        pair = issue_leaf(ca, identity, dns_names=dns_names, ips=("127.0.0.1",),
                          lifetime=dt.timedelta(seconds=lifetime_s))
        kube.apply(_secret(name, namespace, owner, pair, ca.cert_pem, labels))
        RENEWALS.labels(identity.role).inc()
    assert pair is not None
    return pair
