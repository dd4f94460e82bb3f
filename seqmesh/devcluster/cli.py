"""`seqmesh dev cluster`: a real cluster on this machine until Ctrl-C: the control plane on
loopback and, unless --no-node, a node that runs pods (root, Linux)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import time
from pathlib import Path
from typing import Any


def _cluster(args: Any) -> int:
    from .controlplane import REPO, ControlPlane
    from .node import BUSYBOX_IMAGE, NODE_IP, STORAGE_CLASS

    groups = ["control-plane", "crane"] if args.no_node else []
    subprocess.run(["bash", str(REPO / "hack" / "build-k8s.sh"), *groups], check=True)
    cp = ControlPlane(Path(args.dir).resolve(), node=not args.no_node)
    t0 = time.monotonic()
    cp.start()
    what = "control plane" if args.no_node else "cluster (control plane and node)"
    print(f"{what} ready in {time.monotonic() - t0:.1f}s ({cp.server})\n"
          f"export KUBECONFIG={cp.kubeconfig}\nexport PATH={REPO / '.cache' / 'bin'}:$PATH", flush=True)
    if cp.node:
        for image in args.image:
            print(f"loaded {cp.node.load_image(Path(image))}", flush=True)
        print(f"pods run on node seqmesh-node; images load with `seqmesh dev load-image FILE.tar` or\n"
              f"  ctr --address /run/seqmesh-node/containerd.sock -n k8s.io images import FILE.tar\n"
              f"  (test image {BUSYBOX_IMAGE} is in .cache/bin/images/busybox.tar);\n"
              f"StorageClass {STORAGE_CLASS} (default); Service names resolve from pods through CoreDNS at "
              f"{NODE_IP}\n  (from this machine: busybox nslookup NAME.NS.svc.cluster.local {NODE_IP}); ClusterIPs "
              f"answer from pods and from this machine;\nNetworkPolicies are enforced (kube-router's policy "
              f"controller).", flush=True)
    print("Ctrl-C stops it.", flush=True)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: a shell starting us in the background ignores it
        signal.signal(sig, lambda *_: stopping.append(1))
    while not stopping:
        time.sleep(0.5)
    cp.stop()
    return 0


def _load_image(args: Any) -> int:
    from .binaries import binary
    from .images import load_image
    from .node import SOCKET

    if not SOCKET.exists():
        raise SystemExit(f"no node runs here ({SOCKET} missing): start `seqmesh dev cluster` first")
    print(load_image(binary("ctr"), SOCKET, Path(args.tarball), args.ref))
    return 0


def register(subparsers: Any) -> None:
    dev: argparse.ArgumentParser = subparsers.add_parser("dev", help="developer tools")
    sub = dev.add_subparsers(dest="dev_command", metavar="DEV_COMMAND", required=True)
    p = sub.add_parser("cluster", help="run a real Kubernetes cluster here: control plane and a node")
    p.add_argument("--dir", default=".cache/dev-cluster", help="state and logs (default .cache/dev-cluster)")
    p.add_argument("--no-node", action="store_true",
                   help="control plane only (etcd, kube-apiserver, kube-controller-manager on loopback): pods stay "
                        "Pending")
    p.add_argument("--image", action="append", default=[], metavar="TARBALL",
                   help="an image tarball to load into the node (repeatable), e.g. from hack/build-image.sh")
    p.set_defaults(handler=_cluster)
    p = sub.add_parser("load-image", help="load an image tarball into the running dev cluster's node")
    p.add_argument("tarball")
    p.add_argument("--ref", help="the name pods use (default: the name in the tarball)")
    p.set_defaults(handler=_load_image)
