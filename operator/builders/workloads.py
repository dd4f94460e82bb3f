"""StatefulSets and Services for the CC and the edges (non-root, read-only root filesystem)."""

from __future__ import annotations

from typing import Any

from seqmesh.common.crds.models import ContainerResources, StorageSpec

#: The volume (a claim from the StatefulSet's template) mounted at STATE_DIR.
STATE_VOLUME = "state"
STATE_DIR = "/var/lib/seqmesh"


def _container(name: str, image: str, args: list[str], ports: list[tuple[str, int]],
               mounts: list[tuple[str, str]], env: list[dict[str, Any]] | None = None,
               probe: dict[str, Any] | None = None,
               resources: ContainerResources | None = None) -> dict[str, Any]:
    """`probe` (an httpGet or tcpSocket handler) answers once the process serves: it gates
    readiness, and liveness after a start-up allowance (a ledger or journal may take a while
    to recover after a crash; it must not be killed for that)."""
    resources = resources or ContainerResources()
    c: dict[str, Any] = {
        "name": name, "image": image, "args": args,
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
        # readOnly only where true: the API server drops a false one, and the live object must
        # contain everything desired or the operator would re-apply it on every resync.
        "volumeMounts": [{"name": v, "mountPath": path, **({} if path in (STATE_DIR, "/tmp") else {"readOnly": True})}
                         for v, path in [*mounts, ("tmp", "/tmp")]],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": resources.cpu, "memory": resources.memory},
                      "limits": {"memory": resources.memoryLimit}},
        # A process that refuses its settings says why on stderr: that becomes the owner's Degraded message.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if env:
        c["env"] = env
    if probe:
        # A loaded node answers slowly: a probe waits 5 s rather than the default 1 s.
        c["startupProbe"] = {**probe, "periodSeconds": 2, "failureThreshold": 150, "timeoutSeconds": 5}
        c["readinessProbe"] = {**probe, "periodSeconds": 2, "failureThreshold": 2, "timeoutSeconds": 5}
        c["livenessProbe"] = {**probe, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5}
    return c


def http_probe(path: str, port: int, https: bool = False) -> dict[str, Any]:
    """An HTTP(S) GET probe (the kubelet does not verify an HTTPS probe's certificate)."""
    return {"httpGet": {"path": path, "port": port, **({"scheme": "HTTPS"} if https else {})}}


def tcp_probe(port: int) -> dict[str, Any]:
    return {"tcpSocket": {"port": port}}


def statefulset(name: str, namespace: str, labels: dict[str, str], owner: dict[str, Any], container: dict[str, Any],
                volumes: list[dict[str, Any]], storage: StorageSpec, size: str, service_name: str,
                annotations: dict[str, str] | None = None, service_account: str | None = None) -> dict[str, Any]:
    """One pod with its state on a PersistentVolumeClaim.

    A StatefulSet rather than a Deployment: it never starts a replacement pod before the old
    one is known to be gone (a Deployment's ReplicaSet does, for a pod on a lost node), so two
    processes never write one ledger or journal; and it makes the claim itself
    (`volumeClaimTemplates`) and keeps it across pod, StatefulSet and Region deletion unless
    `retainOnDelete` is false (`persistentVolumeClaimRetentionPolicy`). `annotations` on the pod
    template (a hash of the configuration) roll the pod when they change.
    """
    selector = {"app.kubernetes.io/name": "seqmesh", "app.kubernetes.io/instance": name}
    pod_labels = {**labels, **selector}
    claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage.storageClassName:
        claim_spec["storageClassName"] = storage.storageClassName
    when_deleted = "Retain" if storage.retainOnDelete else "Delete"
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
        "spec": {
            "replicas": 1,
            "serviceName": service_name,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted, "whenScaled": "Retain"},
            "selector": {"matchLabels": selector},
            "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "metadata": {"name": STATE_VOLUME, "labels": labels},
                                      "spec": claim_spec}],
            # No empty annotations: the API server drops them, and the live object must contain ours.
            "template": {"metadata": {"labels": pod_labels, **({"annotations": annotations} if annotations else {})},
                         "spec": {"containers": [container],
                                  "volumes": [*volumes, {"name": "tmp", "emptyDir": {}}],
                                  "securityContext": {"fsGroup": 10001, "fsGroupChangePolicy": "OnRootMismatch"},
                                  "terminationGracePeriodSeconds": 30,
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


def projected_configmaps_volume(name: str, sources: list[tuple[str, str, str]]) -> dict[str, Any]:
    """One directory from keys of several ConfigMaps: (configmap, key, file name)."""
    return {"name": name, "projected": {"sources": [
        {"configMap": {"name": cm, "items": [{"key": key, "path": path}]}} for cm, key, path in sources]}}


container = _container
