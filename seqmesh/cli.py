"""The `seqmesh` command line.

Each component owns its subcommands in its own `cli.py` exposing `register(subparsers)`;
this module only assembles them, so `seqmesh --help` stays fast (handlers import lazily).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from seqmesh.common import grpc_core

#: Modules that contribute subcommands, in help order.
COMMAND_MODULES = (
    "seqmesh.runtime.venues.sim.cli",
    "seqmesh.runtime.venues.chain.cli",
    "seqmesh.runtime.venues.solana.cli",
    "seqmesh.runtime.edge.cli",
    "seqmesh.runtime.cc.cli",
    "seqmesh.runtime.launcher.cli",
    "seqmesh.client.cli",
    "seqmesh.client.stream_cli",
    "seqmesh.client.execalgo_cli",
    "seqmesh.client.credentials_cli",
    "seqmesh.client.algo_cli",
    "seqmesh.client.admin_cli",
    "seqmesh.common.certs_cli",
    "seqmesh.devcluster.cli",
    "seqmesh.operator.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqmesh", description="seqmesh execution mesh")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # component not present in this build
            raise
        module.register(subparsers)
    return parser


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    # Until a command installs its own handler (the servers do, to stop cleanly), SIGTERM exits through
    # an exception, with 143: as a container's PID 1 a signal without a handler is dropped, not fatal,
    # and a pod stopped while it starts would wait out its grace period.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    grpc_core.configure()  # before any command creates a channel or a server
    parser = build_parser()
    args = parser.parse_args(argv)
    import httpx

    from seqmesh.client.api import ApiError

    try:
        result = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except ApiError as exc:
        print(f"seqmesh {args.command}: {exc}", file=sys.stderr)
        return 1
    except httpx.TransportError as exc:  # no CC there, or it went away mid-request
        where = getattr(args, "api", None) or str(exc.request.url)
        print(f"seqmesh {args.command}: cannot reach the CC at {where}: {exc or type(exc).__name__}",
              file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
