"""`seqmesh client add|ls|revoke|whoami` (the region's clients; admin but whoami) and
`seqmesh kill-switch on|off [--region | --client ID]`, through the CC's REST API."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from .api import DEFAULT_URL, ApiError, CCClient, default_key
from .tables import table


def _rows(clients: list[dict[str, Any]]) -> str:
    return table(["client", "role", "source", "revoked", "requests/s"],
                 [[c["client_id"], c["role"], c["source"], "yes" if c["revoked_ns"] else "",
                   c["requests_per_s"] or "default"] for c in clients])


def _run(args: Any, call: Callable[[CCClient], str]) -> int:
    with CCClient(args.api, args.key) as c:
        try:
            print(call(c))
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    return 0


def _add(args: Any) -> int:
    def add(c: CCClient) -> str:
        made = c.create_client(args.client_id, args.role, args.requests_per_s)
        return (f"client {made['client_id']} ({made['role']}), key {made['key']}\n"
                "(shown this once: the region keeps only its SHA-256)")
    return _run(args, add)


def _kill_switch(args: Any) -> int:
    def flip(c: CCClient) -> str:
        out = c.kill_switch(args.state == "on", "region" if args.region else "client", args.client)
        whose = "the region's" if out["scope"] == "region" else f"{out['client_id']}'s"
        return (f"{whose} kill switch {args.state}: {out['orders_cancelled']} orders cancelled, "
                f"{out['algos_stopped']} algos stopped, {out['algos_resumed']} resumed")
    return _run(args, flip)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api", default=os.environ.get("SEQMESH_API", DEFAULT_URL), help="CC URL (or SEQMESH_API)")
    p.add_argument("--key", default=default_key(),
                   help="API key (default: $SEQMESH_KEY, else the file $SEQMESH_KEY_FILE or .cache/up/client.key)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("client", help="the region's clients (admin): add, ls, revoke; whoami")
    sub = p.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="a new client; prints its key once")
    add.add_argument("client_id")
    add.add_argument("--role", choices=["trader", "admin", "monitor"], default="trader")
    add.add_argument("--requests-per-s", type=float, help="its API request rate (default: the region's)")
    add.set_defaults(handler=_add)
    specs: list[tuple[str, str, Callable[[Any], int]]] = [
        ("ls", "every client of the region", lambda a: _run(a, lambda c: _rows(c.clients()))),
        ("revoke", "stop a client's key at once", lambda a: _run(a, lambda c: _rows([c.revoke_client(a.client_id)]))),
        ("whoami", "the client your key is", lambda a: _run(a, lambda c: _rows([c.whoami()]))),
    ]
    for name, help_text, handler in specs:
        s = sub.add_parser(name, help=help_text)
        if name == "revoke":
            s.add_argument("client_id")
        s.set_defaults(handler=handler)
    for s in sub.choices.values():
        _common(s)
    k = subparsers.add_parser("kill-switch", help="your kill switch (or, admin: the region's, another client's)")
    k.add_argument("state", choices=["on", "off"])
    scope = k.add_mutually_exclusive_group()
    scope.add_argument("--region", action="store_true", help="every client's orders and algos (admin)")
    scope.add_argument("--client", metavar="ID", help="another client's (admin)")
    _common(k)
    k.set_defaults(handler=_kill_switch)
