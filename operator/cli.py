"""`seqmesh operator run|crds`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def _run(args: Any) -> int:
    if args.metrics_port:
        os.environ["SEQMESH_OPERATOR_METRICS_PORT"] = str(args.metrics_port)
    from .main import run  # after the environment is set: the settings are read when it is imported

    return run(args.namespace, args.liveness_port)


def _crds(args: Any) -> int:
    from seqmesh.common.crds.generate import write

    for path in write(Path(args.dir)):
        print(path)
    return 0


def register(subparsers: Any) -> None:
    op: argparse.ArgumentParser = subparsers.add_parser("operator", help="the Kubernetes operator")
    sub = op.add_subparsers(dest="operator_command", metavar="OPERATOR_COMMAND", required=True)
    run = sub.add_parser("run", help="run the operator against the current kubeconfig / in-cluster config")
    run.add_argument("--namespace", help="watch one namespace (default: all)")
    run.add_argument("--metrics-port", type=int, default=8080)
    run.add_argument("--liveness-port", type=int, default=8081)
    run.set_defaults(handler=_run)
    crds = sub.add_parser("crds", help="write the CRD YAML generated from the models")
    crds.add_argument("--dir", default="crds")
    crds.set_defaults(handler=_crds)
