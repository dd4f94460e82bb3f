"""Writing a resource's status only when it changed (a reconciled object is not rewritten)."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import GROUP, VERSION

from . import kube


def changed(current: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    return not kube.contains(current or {}, desired)


def write(kind: str, name: str, namespace: str, current: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    if not changed(current, desired):
        return False
    resource = kube.api().resources.get(api_version=f"{GROUP}/{VERSION}", kind=kind)
    kube.api().patch(  # type: ignore[no-untyped-call]
        resource.subresources["status"], name=name, namespace=namespace, body={"status": desired},
        content_type="application/merge-patch+json")
    return True
