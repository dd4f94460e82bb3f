"""A venue's wrapping keys: the X25519 keys with which its edges open every client's sealed
credentials, kept in one Secret per region and venue (every edge of the venue mounts the same).

The operator creates that Secret once, with a fresh key, and never rewrites or regenerates a
key in it: a key made again would leave every credential sealed for the old one unopenable.
A rotation only adds a key file that sorts last (the edge's current key), keeping the old ones
for the CC's rewrap. A Secret an Edge names itself (`spec.wrappingKeysSecret`) is only read.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from kubernetes.dynamic.exceptions import ConflictError

from seqmesh.common.sealing import WrappingKey

from . import kube

#: On an Edge: set it (to any new value, e.g. a date) to have the operator add a key to the
#: venue's Secret. Each value rotates once (a Secret records the values it was rotated for),
#: so re-applying a manifest that carries it, or a resync, never adds another.
ROTATE_ANNOTATION = "seqmesh.io/rotate-wrapping-key"
#: On the Secret: {rotation request value: the key file it added}.
ROTATIONS_ANNOTATION = "seqmesh.io/wrapping-key-rotations"
MAX_REQUEST_CHARS = 63
_KEY_FILE = re.compile(r"^([0-9]{4,})\.pem$")


class WrappingKeysUnavailable(Exception):
    """The venue's wrapping keys cannot be had: `reason` is the condition's (CamelCase)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_files(secret: dict[str, Any]) -> list[str]:
    """The Secret's key files in the edge's order (the current key last)."""
    return sorted(k for k in (secret.get("data") or {}) if k.endswith(".pem"))


def next_key_file(files: list[str]) -> str:
    """A file name that sorts after every existing one (the edge takes the last as current)."""
    numbers = [int(m.group(1)) for m in map(_KEY_FILE.match, files) if m]
    name = f"{max(numbers, default=0) + 1:04d}.pem"
    if files and name <= files[-1]:
        raise WrappingKeysUnavailable("InvalidWrappingKeys", f"cannot name a key that sorts after {files[-1]!r}: "
                                                             f"name the key files NNNN.pem")
    return name


def fresh_secret(name: str, namespace: str, owner: dict[str, Any] | None, labels: dict[str, str]) -> dict[str, Any]:
    """The venue's Secret with its first key. `owner`: the Region, unless the keys are retained
    with the region's claims (without them the claims' sealed credentials cannot be opened)."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels,
                            "annotations": {ROTATIONS_ANNOTATION: "{}"}}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta,
            "data": {"0001.pem": _b64(WrappingKey.generate().to_pem())}}


def key_ids(live: dict[str, Any], field: str) -> list[str]:
    """The ids of the Secret's keys, in file order (the edge's current one last); unusable keys refused."""
    name = live["metadata"]["name"]
    files = key_files(live)
    if not files:
        raise WrappingKeysUnavailable("InvalidWrappingKeys", f"Secret {name!r} ({field}) holds no wrapping key "
                                                             f"(*.pem, an X25519 private key in PKCS#8 PEM)")
    ids = []
    for file in files:
        try:
            ids.append(WrappingKey.from_pem(base64.b64decode(live["data"][file])).key_id)
        except ValueError as exc:
            raise WrappingKeysUnavailable("InvalidWrappingKeys", f"Secret {name!r} ({field}), {file}: {exc}") from None
    return ids


def checked(name: str, namespace: str, field: str) -> dict[str, Any]:
    """The Secret `name` if it holds wrapping keys the edge can read; `field` names where it was named."""
    live = kube.get("v1", "Secret", name, namespace)
    if live is None:
        raise WrappingKeysUnavailable("WrappingKeysSecretNotFound",
                                      f"the edge's pod waits for Secret {name!r} ({field}) in {namespace}")
    key_ids(live, field)
    return live


def ensure(name: str, namespace: str, owner: dict[str, Any] | None, labels: dict[str, str],
           known: list[str]) -> dict[str, Any]:
    """The venue's Secret, created with a first key if absent (the first of racing creators wins).

    Never made again once it had keys (`known`: the key ids the Edge saw in it): a deleted
    Secret is reported, not replaced, since every credential of the venue is sealed for those
    keys and a fresh one would quietly replace them in the running pods too. Nor is one that
    lost its keys filled again."""
    live = kube.get("v1", "Secret", name, namespace)
    if live is None and known:
        raise WrappingKeysUnavailable("WrappingKeysSecretLost", (
            f"Secret {name!r} with wrapping keys {', '.join(known)} is gone: restore it from your backup "
            f"(every client credential of the venue is sealed for them); to start over with a new key "
            f"(each client enters its credentials again), delete this Edge and apply it again"))
    if live is None:
        live = kube.create_or_get(fresh_secret(name, namespace, owner, labels))
    key_ids(live, "the venue's wrapping keys")
    return live


def request_of(annotations: dict[str, str] | None) -> str | None:
    """The Edge's rotation request (its annotation's value), if any."""
    value = ((annotations or {}).get(ROTATE_ANNOTATION) or "").strip()
    if not value:
        return None
    if len(value) > MAX_REQUEST_CHARS:
        raise WrappingKeysUnavailable("InvalidRotationRequest", f"annotation {ROTATE_ANNOTATION}: at most "
                                                                f"{MAX_REQUEST_CHARS} characters")
    return value


def rotations(secret: dict[str, Any]) -> dict[str, str]:
    raw = ((secret.get("metadata") or {}).get("annotations") or {}).get(ROTATIONS_ANNOTATION) or "{}"
    try:
        done = json.loads(raw)
    except ValueError:
        done = None
    if not isinstance(done, dict):
        raise WrappingKeysUnavailable("InvalidWrappingKeys", f"Secret {secret['metadata']['name']!r}: annotation "
                                                             f"{ROTATIONS_ANNOTATION} is not a JSON object")
    return {str(k): str(v) for k, v in done.items()}


def pending(name: str, namespace: str, annotations: dict[str, str] | None) -> bool:
    """Whether the Edge asks for a rotation the venue's Secret has not had (or cannot say)."""
    try:
        request = request_of(annotations)
        live = kube.get("v1", "Secret", name, namespace)
        return request is not None and (live is None or request not in rotations(live))
    except WrappingKeysUnavailable:
        return True


def rotate(secret: dict[str, Any], request: str) -> dict[str, Any]:
    """Add a key to the venue's Secret for `request` unless one was added for it; the Secret after.

    The patch carries the Secret's resourceVersion: two handlers rotating at once cannot both
    add a key, nor lose the other's (the loser reads the Secret again and finds it done)."""
    meta = secret["metadata"]
    for _ in range(5):
        done = rotations(secret)
        if request in done:
            return secret
        file = next_key_file(key_files(secret))
        patch = {"metadata": {"resourceVersion": secret["metadata"]["resourceVersion"], "annotations": {
                     ROTATIONS_ANNOTATION: json.dumps({**done, request: file}, sort_keys=True)}},
                 "data": {file: _b64(WrappingKey.generate().to_pem())}}
        resource = kube.api().resources.get(api_version="v1", kind="Secret")
        try:
            patched: dict[str, Any] = kube.api().patch(  # type: ignore[no-untyped-call]
                resource, name=meta["name"], namespace=meta["namespace"], body=patch,
                content_type="application/merge-patch+json").to_dict()
            return patched
        except ConflictError:
            live = kube.get("v1", "Secret", meta["name"], meta["namespace"])
            if live is None:
                raise WrappingKeysUnavailable("WrappingKeysSecretNotFound",
                                              f"Secret {meta['name']!r} went away during a rotation") from None
            secret = live
    raise WrappingKeysUnavailable("RotationConflict", f"Secret {meta['name']!r} kept changing during a rotation")


def level(name: str, given: bool, annotations: dict[str, str] | None, namespace: str,
          owner: dict[str, Any] | None, labels: dict[str, str], known: list[str]) -> list[str]:
    """Make sure the edge's wrapping keys exist: the Secret the Edge names (`given`: only read), or
    the venue's, created once and rotated on request. Their key ids, the current one last."""
    if given:
        return key_ids(checked(name, namespace, "spec.wrappingKeysSecret"), "spec.wrappingKeysSecret")
    secret = ensure(name, namespace, owner, labels, known)
    request = request_of(annotations)
    if request:
        secret = rotate(secret, request)
    return key_ids(secret, "the venue's wrapping keys")
