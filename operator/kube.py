"""Applying desired objects: level-based and quiet.

An object is left alone when everything the operator wants is already there (a subset check
against the live object, so server-side defaults don't count as drift); otherwise it is
server-side applied with the operator's field manager, which corrects drift in the fields
we own and nothing else. Unchanged objects are never rewritten, so there are no update loops.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from kubernetes import client, config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from .settings import SETTINGS

_lock = threading.Lock()
_dynamic: DynamicClient | None = None
#: (connect, read) seconds for every call: the client's default is to wait forever, and a sync
#: handler stuck on a dead connection holds its object (a timer that never returns keeps kopf
#: from removing the finalizer, so a deletion hangs)
REQUEST_TIMEOUT_S = (5.0, 30.0)


class _Client(DynamicClient):
    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        params.setdefault("_request_timeout", REQUEST_TIMEOUT_S)
        return super().request(method, path, body, **params)


def api() -> DynamicClient:
    global _dynamic
    with _lock:
        if _dynamic is None:
            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                # The client reads $KUBECONFIG only when imported; read it now.
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
            _dynamic = _Client(client.ApiClient())  # type: ignore[no-untyped-call]
        return _dynamic


def reset() -> None:
    """Forget the client (tests switch clusters)."""
    global _dynamic
    with _lock:
        _dynamic = None


def contains(live: Any, want: Any) -> bool:
    """Whether `want` is already expressed in `live` (dicts by subset, lists element-wise)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(live, list) and len(live) == len(want) and all(
            contains(a, b) for a, b in zip(live, want, strict=True))
    return bool(live == want)


def get(api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    resource = api().resources.get(api_version=api_version, kind=kind)
    try:
        obj: dict[str, Any] = resource.get(name=name, namespace=namespace).to_dict()
        return obj
    except NotFoundError:
        return None


def apply(obj: dict[str, Any]) -> str:
    """Make the cluster hold `obj`; returns "created", "updated" or "unchanged"."""
    meta = obj["metadata"]
    live = get(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"])
    if live is not None and contains(live, {k: v for k, v in obj.items() if k != "status"}):
        return "unchanged"
    resource = api().resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    api().server_side_apply(  # type: ignore[no-untyped-call]
        resource, body=obj, name=meta["name"], namespace=meta["namespace"],
        field_manager=SETTINGS.field_manager, force_conflicts=True)
    return "created" if live is None else "updated"


def create_or_get(obj: dict[str, Any]) -> dict[str, Any]:
    """Create `obj` unless it exists; whoever created it first wins (never overwritten)."""
    from kubernetes.dynamic.exceptions import ConflictError

    resource = api().resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    meta = obj["metadata"]
    try:
        created: dict[str, Any] = resource.create(body=obj, namespace=meta["namespace"]).to_dict()
        return created
    except ConflictError:
        live = get(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"])
        assert live is not None
        return live


def list_objects(api_version: str, kind: str, namespace: str,
                 selector: dict[str, str] | None = None) -> list[dict[str, Any]]:
    resource = api().resources.get(api_version=api_version, kind=kind)
    label_selector = ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or None
    items: list[dict[str, Any]] = resource.get(namespace=namespace, label_selector=label_selector).to_dict().get(
        "items", [])
    return items


def delete_owned(api_version: str, kind: str, name: str, namespace: str, owner_uid: str) -> bool:
    """Delete an object only if `owner_uid` owns it (what an older operator made and this one replaces)."""
    live = get(api_version, kind, name, namespace)
    if live is None or not any(ref.get("uid") == owner_uid
                               for ref in live["metadata"].get("ownerReferences") or []):
        return False
    resource = api().resources.get(api_version=api_version, kind=kind)
    try:
        resource.delete(name=name, namespace=namespace, body={"propagationPolicy": "Foreground"})
    except NotFoundError:
        return False
    return True


def owner(body: Any) -> dict[str, Any]:
    """An owner reference to a custom resource, so deleting it garbage-collects what it owns."""
    return {"apiVersion": body["apiVersion"], "kind": body["kind"], "name": body["metadata"]["name"],
            "uid": body["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
