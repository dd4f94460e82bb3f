"""`seqmesh dev cluster`: a real control plane on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import subprocess
import time
from pathlib import Path
from typing import Any


def _cluster(args: Any) -> int:
    from .controlplane import REPO, ControlPlane

    subprocess.run(["bash", str(REPO / "hack" / "build-k8s.sh")], check=True)
    cp = ControlPlane(Path(args.dir).resolve())
    t0 = time.monotonic()
    cp.start()
    print(f"control plane ready in {time.monotonic() - t0:.1f}s ({cp.server})\n"
          f"export KUBECONFIG={cp.kubeconfig}\nexport PATH={REPO / '.cache' / 'bin'}:$PATH\nCtrl-C stops it.",
          flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    cp.stop()
    return 0


def register(subparsers: Any) -> None:
    dev: argparse.ArgumentParser = subparsers.add_parser("dev", help="developer tools")
    sub = dev.add_subparsers(dest="dev_command", metavar="DEV_COMMAND", required=True)
    p = sub.add_parser("cluster", help="run etcd, kube-apiserver and kube-controller-manager on loopback")
    p.add_argument("--dir", default=".cache/dev-cluster", help="state and logs (default .cache/dev-cluster)")
    p.set_defaults(handler=_cluster)
