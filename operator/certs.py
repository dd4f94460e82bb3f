"""The region CA and leaf certificates, kept in Secrets and renewed at 2/3 of their lifetime."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import threading
from typing import Any

from cryptography import x509

from seqmesh.common.certs import Identity, KeyPair, identity_of, issue_leaf, make_ca, needs_renewal

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


class CAUnavailable(Exception):
    """The CA a Region names (spec.caSecret) is missing or unusable."""


def given_ca(name: str, namespace: str) -> KeyPair:
    """A region CA brought by the user (GitOps: its certificate is in other regions' PeerLinks)."""
    pair = _pair(kube.get("v1", "Secret", name, namespace))
    if pair is None:
        raise CAUnavailable(f"Secret {name!r} (spec.caSecret) not found in {namespace}, or without tls.crt/tls.key")
    error = bundle_error(pair.cert_pem.decode())
    if error is not None:
        raise CAUnavailable(f"Secret {name!r} (spec.caSecret): {error}")
    return pair


def ensure_ca(region: str, namespace: str, owner: dict[str, Any], labels: dict[str, str],
              given: str | None = None) -> KeyPair:
    """The region's CA: the Secret named by `given`, or one the operator creates once (the
    Region's and its Edges' handlers may race for it; the first to create the Secret wins)."""
    if given:
        return given_ca(given, namespace)
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


def split_hosts(hosts: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Host names and IP addresses apart (a certificate names them in different SAN types)."""
    dns, ips = [], []
    for host in hosts:
        try:
            ips.append(str(ipaddress.ip_address(host)))
        except ValueError:
            dns.append(host)
    return tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips))


def sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    """The DNS names and IP addresses a certificate names."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(ext.get_values_for_type(x509.DNSName)), {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}


def ensure_leaf(name: str, namespace: str, owner: dict[str, Any], ca: KeyPair, identity: Identity,
                hosts: tuple[str, ...], lifetime_s: int, labels: dict[str, str]) -> KeyPair:
    """Issue (or keep) a leaf naming `hosts` (DNS names or IPs, plus 127.0.0.1) and its identity
    (URI and DNS name); re-issue when due, when it was not signed by the current CA, or when the
    names it must carry changed. The pods reload the Secret's files: no restart."""
    dns, ips = split_hosts((*hosts, "127.0.0.1", identity.dns_name))
    live = kube.get("v1", "Secret", name, namespace)
    pair = _pair(live)
    stale = (pair is None or needs_renewal(pair.cert) or pair.cert.issuer != ca.cert.subject
             or base64.b64decode((live or {}).get("data", {}).get("ca.crt", "")) != ca.cert_pem
             or sans(pair.cert) != (set(dns), set(ips)) or identity_of(pair.cert) != identity)
    if stale:
        pair = issue_leaf(ca, identity, dns_names=dns, ips=ips, lifetime=dt.timedelta(seconds=lifetime_s))
        kube.apply(_secret(name, namespace, owner, pair, ca.cert_pem, labels))
        RENEWALS.labels(identity.role).inc()
    assert pair is not None
    return pair


def bundle_error(pem: str) -> str | None:
    """Why a PeerLink's CA bundle cannot be trusted (None: one or more CA certificates, PEM).
    The CC would refuse a configuration naming a file that is not: it never gets one."""
    try:
        found = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        return f"caBundle is not PEM certificates: {exc}"
    for cert in found:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            return f"caBundle holds a certificate that is not a CA: {cert.subject.rfc4514_string()}"
    return None
