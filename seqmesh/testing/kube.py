"""Reading seqmesh resources from a test control plane with kubectl; namespaces, pods and
images on a cluster with a node."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqmesh.devcluster.controlplane import REPO, ControlPlane
from seqmesh.devcluster.node import BUSYBOX_IMAGE
from seqmesh.testing.processes import wait_until

NS = "default"


def get(cp: ControlPlane, kind: str, name: str, namespace: str = NS) -> dict[str, Any] | None:
    r = cp.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return {}


def wait_ready(cp: ControlPlane, kind: str, name: str, timeout: float = 60, namespace: str = NS) -> dict[str, Any]:
    return _wait_status(cp, kind, name, timeout, namespace, "True", "Ready")


def wait_reconciled(cp: ControlPlane, kind: str, name: str, timeout: float = 60,
                    namespace: str = NS) -> dict[str, Any]:
    """The resource once the operator has levelled its current generation (Ready or not)."""
    return _wait_status(cp, kind, name, timeout, namespace, None, "reconciled")


def _wait_status(cp: ControlPlane, kind: str, name: str, timeout: float, namespace: str, ready: str | None,
                 what: str) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def done() -> bool:
        box["obj"] = get(cp, kind, name, namespace)
        c = condition(box["obj"], "Ready")
        return bool(c) and (ready is None or c.get("status") == ready) and \
            box["obj"]["status"].get("observedGeneration") == box["obj"]["metadata"]["generation"]

    wait_until(done, timeout, interval=0.2, what=f"{kind}/{name} in {namespace} {what}")
    obj: dict[str, Any] = box["obj"]
    return obj


# -- a cluster with a node (ControlPlane(node=True)) ------------------------------------------

SEQMESH_IMAGE = "ghcr.io/seqmesh/seqmesh:0.1.0"


@contextlib.contextmanager
def scratch_namespace(cp: ControlPlane, name: str, timeout: float = 60) -> Iterator[str]:
    """A fresh namespace, usable for pods once its `default` service account exists (the
    ServiceAccount admission plugin refuses pods before); deleted afterwards without waiting."""
    cp.create_namespace(name)
    try:
        wait_until(lambda: cp.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
                   timeout, interval=0.2, what=f"serviceaccount default in {name}")
        yield name
    finally:
        cp.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(cp: ControlPlane, ns: str, *objects: dict[str, Any]) -> None:
    cp.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                "items": list(objects)}))


def busybox_pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    """A pod of the node's test image running `script`; `labels` and `container` (fields merged
    into the container) are taken from `spec`, the rest is the pod's spec."""
    container = {"name": "main", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                 "command": ["sh", "-c", script], **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": spec.pop("labels", {})},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec}}


def wait_pods(cp: ControlPlane, ns: str, target: str, condition: str = "Ready", timeout: float = 90) -> None:
    """`kubectl wait` (bounded) for pod(s) `target` (`pod/NAME` or `-l SELECTOR`); on failure the
    error carries the pods' status and the namespace's events."""
    args = ["pod", *target.split(" ", 1)] if target.startswith("-l ") else [target]
    r = cp.kubectl("wait", "-n", ns, f"--for=condition={condition}", f"--timeout={timeout:.0f}s", *args,
                   check=False, timeout=timeout + 30)
    if r.returncode != 0:
        raise AssertionError(f"{target} not {condition} in {timeout}s: {r.stderr.strip()}\n{diagnose(cp, ns)}")


def diagnose(cp: ControlPlane, ns: str, log_lines: int = 25) -> str:
    """Why pods in `ns` are not Ready, most telling first (a failure's message may be cut): each
    unready container's state and last termination, its previous and current logs' tails, then
    the pods and the namespace's events."""
    out: list[str] = []
    listing = cp.kubectl("get", "pods", "-n", ns, "-o", "json", check=False)
    pods = json.loads(listing.stdout)["items"] if listing.returncode == 0 else []
    for pod in pods:
        name = pod["metadata"]["name"]
        for cs in pod.get("status", {}).get("containerStatuses", []):
            if cs.get("ready"):
                continue
            out.append(f"-- pod {name} container {cs['name']}: restarts {cs.get('restartCount')}, "
                       f"state {json.dumps(cs.get('state'))}, last {json.dumps(cs.get('lastState'))}")
            for previous in (True, False):
                logs = cp.kubectl("logs", "-n", ns, name, "-c", cs["name"], f"--tail={log_lines}",
                                  *(["--previous"] if previous else []), check=False)
                if logs.stdout.strip():
                    out.append(f"   {'previous' if previous else 'current'} log:\n{logs.stdout.rstrip()}")
    out.append(cp.kubectl("get", "pods", "-n", ns, "-o", "wide", check=False).stdout)
    events = cp.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False).stdout
    out.append(events[-3000:])
    return "\n".join(out)


def pod_exec(cp: ControlPlane, ns: str, pod: str, *command: str, timeout: float = 60) -> str:
    return cp.kubectl("exec", "-n", ns, pod, "--", *command, timeout=timeout).stdout


def load_seqmesh_image(cp: ControlPlane, timeout: float = 1800) -> str:
    """Build seqmesh's image with hack/build-image.sh (cached; its last output line is the
    tarball) and load it into the node as SEQMESH_IMAGE."""
    if cp.node is None:
        raise ValueError("load_seqmesh_image needs a cluster with a node (ControlPlane(node=True))")
    script = REPO / "hack" / "build-image.sh"
    if not script.exists():
        raise FileNotFoundError(f"{script} does not exist yet: seqmesh's image cannot be built")
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"hack/build-image.sh failed ({r.returncode}): {r.stderr[-3000:]}")
    tarball = Path(r.stdout.strip().splitlines()[-1])
    return cp.node.load_image(tarball, SEQMESH_IMAGE)


def dns_lookup(server: str, name: str, timeout: float = 5) -> list[str]:
    """The A records for `name` from the DNS server at `server` (port 53), over UDP: how the host
    asks the cluster's CoreDNS without touching its own resolver configuration."""
    query_id = secrets.randbits(16)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, 53))
        reply = s.recv(4096)
    rid, flags, _qd, answers = struct.unpack(">HHHH", reply[:8])
    if rid != query_id or flags & 0x000F:
        return []  # wrong reply or an error rcode (NXDOMAIN, SERVFAIL)
    pos = 12 + len(question) + 4
    found = []
    for _ in range(answers):
        while reply[pos] and reply[pos] < 0xC0:  # a name: labels, ended by 0 or by a pointer
            pos += reply[pos] + 1
        pos += 2 if reply[pos] >= 0xC0 else 1
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(reply[pos:pos + 4]))
        pos += length
    return found
