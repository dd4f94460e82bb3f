"""Deployments and Services for the CC and the edges (non-root, read-only root filesystem)."""

from __future__ import annotations

from typing import Any


def _container(name: str, image: str, args: list[str], ports: list[tuple[str, int]],
               mounts: list[tuple[str, str]], env: list[dict[str, Any]] | None = None,
               http_health: tuple[str, int] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name, "image": image, "args": args,
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
        "volumeMounts": [{"name": v, "mountPath": path, "readOnly": path != "/var/lib/seqmesh"} for v, path in mounts],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    }
    if env:
        c["env"] = env
    if http_health:
        path, port = http_health
        c["livenessProbe"] = {"httpGet": {"path": path, "port": port}, "periodSeconds": 10}
        c["readinessProbe"] = {"httpGet": {"path": path, "port": port}, "periodSeconds": 5}
    return c


def deployment(name: str, namespace: str, labels: dict[str, str], owner: dict[str, Any], container: dict[str, Any],
               volumes: list[dict[str, Any]], service_account: str | None = None) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": "seqmesh", "app.kubernetes.io/instance": name}
    pod_labels = {**labels, **selector}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "spec": {
            "replicas": 1,
            # One writer of the ledger/journal at a time: never two pods of the same CC or edge.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": pod_labels},
                         "spec": {"containers": [container], "volumes": volumes,
                                  "securityContext": {"fsGroup": 10001},
                                  # Only a pod that talks to the API server gets a token.
                                  **({"serviceAccountName": service_account, "automountServiceAccountToken": True}
                                     if service_account else {"automountServiceAccountToken": False})}},
        },
    }


def service(name: str, namespace: str, labels: dict[str, str], owner: dict[str, Any], target: str,
            ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "spec": {"selector": {"app.kubernetes.io/name": "seqmesh", "app.kubernetes.io/instance": target},
                 "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports]},
    }


def secret_volume(name: str, secret: str) -> dict[str, Any]:
    return {"name": name, "secret": {"secretName": secret, "defaultMode": 0o440}}


def configmap_volume(name: str, configmap: str) -> dict[str, Any]:
    return {"name": name, "configMap": {"name": configmap}}


def state_volume() -> dict[str, Any]:
    return {"name": "state", "emptyDir": {}}


container = _container
