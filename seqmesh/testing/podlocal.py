"""Run a pod the operator made as a local process, from exactly what its pod would get.

No kubelet: the StatefulSet's pod template is read, each volume it mounts is written out the
way a kubelet would (Secrets, ConfigMaps, projected ConfigMap keys; claims and emptyDirs as
empty directories) under a local root, environment variables resolved (values, Secret keys),
and the container's own arguments run with their paths moved under that root. Only what the
test asks changes (loopback addresses instead of Service names; the certificates name
127.0.0.1 too). So a test sees whether the CC accepts the configuration, certificates and
peer CAs the operator wrote, and whether they are wired to each other.
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.processes import Proc


def get_json(cp: ControlPlane, kind: str, name: str, namespace: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cp.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
    return out


def _data(obj: dict[str, Any]) -> dict[str, bytes]:
    if obj["kind"] == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


def _write(target: Path, data: dict[str, bytes], items: list[dict[str, str]] | None) -> None:
    for key, path in ((i["key"], i["path"]) for i in items) if items else ((k, k) for k in data):
        if key not in data:
            raise KeyError(f"key {key!r} missing from a volume's source (has {sorted(data)})")
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(data[key])


@dataclass
class LocalPod:
    root: Path
    mounts: dict[str, Path]  # mountPath in the container -> local directory
    args: list[str]
    env: dict[str, str]

    def local(self, path: str) -> str:
        """A container path moved to where its volume was written."""
        for mount, local in sorted(self.mounts.items(), key=lambda m: -len(m[0])):
            if path == mount or path.startswith(mount + "/"):
                return str(local) + path[len(mount):]
        return path

    def relocate(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.local(value)
        if isinstance(value, list):
            return [self.relocate(v) for v in value]
        if isinstance(value, dict):
            return {k: self.relocate(v) for k, v in value.items()}
        return value


def materialise(cp: ControlPlane, namespace: str, statefulset: str, root: Path) -> LocalPod:
    sts = get_json(cp, "statefulset", statefulset, namespace)
    spec = sts["spec"]["template"]["spec"]
    container = spec["containers"][0]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        volume = volumes.get(mount["name"], {})  # absent: a claim from volumeClaimTemplates
        if "secret" in volume:
            _write(target, _data(get_json(cp, "secret", volume["secret"]["secretName"], namespace)),
                   volume["secret"].get("items"))
        elif "configMap" in volume:
            _write(target, _data(get_json(cp, "configmap", volume["configMap"]["name"], namespace)),
                   volume["configMap"].get("items"))
        elif "projected" in volume:
            for source in volume["projected"]["sources"]:
                kind = "configMap" if "configMap" in source else "secret"
                ref = source[kind]
                _write(target, _data(get_json(cp, kind.lower(), ref["name"], namespace)), ref.get("items"))
        mounts[mount["mountPath"]] = target
    pod = LocalPod(root, mounts, list(container.get("args", [])), {})
    for var in container.get("env", []):
        if "value" in var:
            pod.env[var["name"]] = pod.local(var["value"])
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            pod.env[var["name"]] = _data(get_json(cp, "secret", ref["name"], namespace))[ref["key"]].decode()
    return pod


def run(pod: LocalPod, args: list[str], ready: str, log_path: Path, timeout: float = 60.0) -> Proc:
    return Proc([sys.executable, "-m", "seqmesh", *args], ready, timeout, log_path, env=pod.env)
