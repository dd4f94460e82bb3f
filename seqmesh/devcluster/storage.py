"""A dynamic provisioner of `local` PersistentVolumes on the node's disk, run as a host process.

It does what an external provisioner (rancher's local-path-provisioner, the CSI sidecar) does,
without a helper pod: for a claim of a StorageClass naming `PROVISIONER` that the scheduler
has placed on this node (`volume.kubernetes.io/selected-node`, set under
WaitForFirstConsumer), it makes a directory under `--root` and a PersistentVolume bound to the
claim (`claimRef`), pinned to the node; the PV controller binds them. When a Delete-policy
volume is Released, it removes the directory and the volume. Retain-policy volumes keep both.

    python -m seqmesh.devcluster.storage --server URL --ca CA --cert CRT --key KEY --root DIR --node NAME
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import ssl
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

PROVISIONER = "seqmesh.dev/local-volume"
STORAGE_CLASS = "standard"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def storage_class_manifest() -> dict[str, Any]:
    """The default StorageClass: like kind's `standard`, local volumes bound where the pod runs and
    deleted with their claim (a claim that should outlive a release is kept by not deleting it)."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS,
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Api:
    """The API server over one kept-alive TLS connection (polling must not cost a handshake each time)."""

    def __init__(self, server: str, ca: Path, cert: Path, key: Path) -> None:
        url = urllib.parse.urlsplit(server)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.ctx = ssl.create_default_context(cafile=str(ca))
        self.ctx.load_cert_chain(str(cert), str(key))
        self.conn: http.client.HTTPSConnection | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
        try:
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                              headers={"Content-Type": "application/json", "Accept": "application/json"})
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        if resp.status >= 300:
            raise ApiError(resp.status, data.decode(errors="replace"))
        result: dict[str, Any] = json.loads(data)
        return result


class Provisioner:
    def __init__(self, api: Api, root: Path, node: str) -> None:
        self.api, self.root, self.node = api, root, node

    def sync(self) -> None:
        classes = {c["metadata"]["name"]: c for c in self.api.call("GET", "/apis/storage.k8s.io/v1/storageclasses")
                   ["items"] if c.get("provisioner") == PROVISIONER}
        for pvc in self.api.call("GET", "/api/v1/persistentvolumeclaims")["items"]:
            cls = classes.get(pvc["spec"].get("storageClassName") or "")
            annotations = pvc["metadata"].get("annotations", {})
            if (cls is not None and pvc.get("status", {}).get("phase") == "Pending"
                    and not pvc["spec"].get("volumeName") and annotations.get(SELECTED_NODE) == self.node):
                self.provision(pvc, cls)
        for pv in self.api.call("GET", "/api/v1/persistentvolumes")["items"]:
            if (pv["metadata"].get("annotations", {}).get(PROVISIONED_BY) == PROVISIONER
                    and pv.get("status", {}).get("phase") == "Released"
                    and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"):
                self.delete(pv)

    def provision(self, pvc: dict[str, Any], cls: dict[str, Any]) -> None:
        meta = pvc["metadata"]
        name = f"pvc-{meta['uid']}"
        path = self.root / f"{meta['namespace']}_{meta['name']}_{name}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # containers run as any user
        pv = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                "accessModes": pvc["spec"]["accessModes"],
                "persistentVolumeReclaimPolicy": cls.get("reclaimPolicy", "Delete"),
                "storageClassName": cls["metadata"]["name"],
                "volumeMode": pvc["spec"].get("volumeMode", "Filesystem"),
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                             "name": meta["name"], "uid": meta["uid"]},
                "local": {"path": str(path)},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.node]}]}]}},
            },
        }
        try:
            self.api.call("POST", "/api/v1/persistentvolumes", pv)
            print(f"provisioned {name} for {meta['namespace']}/{meta['name']} at {path}", flush=True)
        except ApiError as e:
            if e.status != 409:  # 409: made on an earlier pass, the PV controller has yet to bind it
                raise

    def delete(self, pv: dict[str, Any]) -> None:
        path = Path(pv["spec"]["local"]["path"])
        if path.parent == self.root:  # never remove anything outside the volume root
            shutil.rmtree(path, ignore_errors=True)
        try:
            self.api.call("DELETE", f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
            print(f"deleted {pv['metadata']['name']} and {path}", flush=True)
        except ApiError as e:
            if e.status != 404:
                raise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seqmesh.devcluster.storage", description=__doc__.split("\n\n")[0])
    p.add_argument("--server", required=True)
    p.add_argument("--ca", type=Path, required=True)
    p.add_argument("--cert", type=Path, required=True)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--root", type=Path, required=True, help="directory the volumes are made in")
    p.add_argument("--node", required=True, help="the node the volumes are on")
    p.add_argument("--interval", type=float, default=1.0)
    args = p.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    prov = Provisioner(Api(args.server, args.ca, args.cert, args.key), args.root.resolve(), args.node)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"provisioning {PROVISIONER} volumes for node {args.node} under {args.root}", flush=True)
    while True:
        try:
            prov.sync()
        except (ApiError, OSError, http.client.HTTPException, KeyError) as e:  # the API server restarting: try again
            print(f"sync failed: {e!r}", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
