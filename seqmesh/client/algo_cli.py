"""`seqmesh algo deploy|ls|start|stop|logs|rm`: WebAssembly algos through the CC's REST API."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from seqmesh.runtime.backtest.cli import add_backtest

from . import algo_project
from .api import DEFAULT_URL, ApiError, CCClient, default_key
from .tables import table

SETTLED = ("Running", "Stopped", "Failed", "Refused")


def _client(args: Any) -> CCClient:
    return CCClient(args.api, args.key)


def edge_rows(algo: dict[str, Any]) -> list[list[Any]]:
    return [[algo["name"], e["edge"], e["state"], e.get("calls", ""), e.get("orders", ""), e.get("fills", ""),
             e.get("messages", ""), e.get("traps", ""), e.get("denied", ""), e.get("reason") or ""]
            for e in algo["edges"]]


HEADERS = ["algo", "edge", "state", "calls", "orders", "fills", "msgs", "traps", "denied", "reason"]


def _module(args: Any) -> tuple[str, bytes, dict[str, str]] | None:
    """The algo's name (default: the file's), its module and parameters; None if unreadable."""
    path = Path(args.file)
    try:
        wasm = path.read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None
    return args.name or path.stem.replace("_", "-").lower(), wasm, dict(p.partition("=")[::2] for p in args.param)


def _deploy(args: Any) -> int:
    module = _module(args)
    if module is None:
        return 2
    name, wasm, params = module
    path = Path(args.file)
    edges = [e for e in args.edges.split(",") if e]
    with _client(args) as c:
        print(f"uploading {path.name} ({len(wasm)} bytes) as {name!r} to {len(edges)} edge(s) ...", flush=True)
        try:
            algo = c.deploy_algo(name, wasm, args.symbol, edges, params, start=not args.stopped)
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        want = algo["desired"]
        deadline = time.monotonic() + args.wait
        seen: dict[str, str] = {}
        while True:
            for e in algo["edges"]:
                if seen.get(e["edge"]) != e["state"]:
                    seen[e["edge"]] = e["state"]
                    reason = f"  ({e['reason']})" if e.get("reason") else ""
                    print(f"  {e['edge']:<16} {e['state']}{reason}", flush=True)
            done = all(e["state"] in SETTLED for e in algo["edges"])
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.2)
            algo = c.algo(name)
        good = sum(e["state"] == want for e in algo["edges"])
        ok = good == len(algo["edges"])
        print(f"{name}: {'ready, ' + want.lower() if ok else 'not ready'} on {good}/{len(algo['edges'])} edges"
              f"  sha256 {algo['sha256'][:12]}")
        return 0 if ok else 1


def _ls(args: Any) -> int:
    with _client(args) as c:
        rows = [row for a in c.algos() for row in edge_rows(a)]
        print(table(HEADERS, rows) if rows else "no algos")
    return 0


def _set(args: Any) -> int:
    with _client(args) as c:
        try:
            algo = c.start_algo(args.name) if args.command_name == "start" else c.stop_algo(args.name)
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        print(table(HEADERS, edge_rows(algo)))
    return 0


def _rm(args: Any) -> int:
    with _client(args) as c:
        try:
            c.delete_algo(args.name)
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    print(f"{args.name}: deleted")
    return 0


def new_lines(before: list[str], now: list[str]) -> list[str]:
    """The lines of `now` after what `before` already showed. An edge keeps an algo's last lines
    only (older ones roll off the front): `now` is a suffix of `before` plus new lines, so the
    longest end of `before` that `now` starts with was seen. (Lines repeated exactly can make
    that overlap look longer than it was: such a repeat is then not shown twice.)"""
    for start in range(len(before) + 1):
        kept = before[start:]
        if now[:len(kept)] == kept:
            return now[len(kept):]
    return now


def _logs(args: Any) -> int:
    shown: dict[str, list[str]] = {}
    deadline = time.monotonic() + args.seconds if args.seconds else None
    with _client(args) as c:
        while True:
            try:
                logs = c.algo_logs(args.name)
            except ApiError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 1
            for edge, lines in logs.items():
                fresh = new_lines(shown[edge], lines) if edge in shown else lines[-args.tail:]
                shown[edge] = lines
                for line in fresh:
                    print(f"[{edge}] {line}", flush=True)
            if not args.follow or (deadline is not None and time.monotonic() >= deadline):
                return 0
            time.sleep(args.interval)


def _manifest(args: Any) -> int:
    """An Algo manifest embedding the module: for `kubectl apply` or a GitOps repository."""
    import base64

    import yaml

    module = _module(args)
    if module is None:
        return 2
    name, wasm, params = module
    path = Path(args.file)
    doc = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Algo", "metadata": {"name": name},
           "spec": {"region": args.region, "edges": [e for e in args.edges.split(",") if e], "symbol": args.symbol,
                    "state": "Stopped" if args.stopped else "Running",
                    "params": params,
                    "wasm": base64.b64encode(wasm).decode()}}
    print(f"# {path.name}: {len(wasm)} bytes; generated by `seqmesh algo manifest`")
    print(yaml.safe_dump(doc, sort_keys=False, width=1 << 30), end="")
    return 0


def register(subparsers: Any) -> None:
    top = subparsers.add_parser("algo", help="deploy and run WebAssembly algos on the region's edges")
    sub = top.add_subparsers(dest="algo_command", required=True)
    algo_project.register(sub)  # init, build: local, no CC

    def add(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--api", default=os.environ.get("SEQMESH_API", DEFAULT_URL), help="CC URL (or SEQMESH_API)")
        p.add_argument("--key", default=default_key(),
                       help="API key (default: $SEQMESH_KEY, else the file $SEQMESH_KEY_FILE or .cache/up/client.key)")
        p.set_defaults(handler=handler, command_name=name)
        return p

    p = add("deploy", "upload a .wasm and run it on edges", _deploy)
    p.add_argument("file")
    p.add_argument("--edges", required=True, help="comma-separated venues")
    p.add_argument("--symbol", default="BTC/USDT")
    p.add_argument("--name", help="default: the file name")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="passed to on_start")
    p.add_argument("--stopped", action="store_true", help="deploy without starting")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the edges")
    p = add("manifest", "print an Algo manifest embedding a .wasm (kubectl apply, GitOps)", _manifest)
    p.add_argument("file")
    p.add_argument("--region", required=True)
    p.add_argument("--edges", required=True, help="comma-separated Edge resource names")
    p.add_argument("--symbol", default="BTC/USDT")
    p.add_argument("--name", help="default: the file name")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="passed to on_start")
    p.add_argument("--stopped", action="store_true", help="state: Stopped")
    add("ls", "algos and their per-edge state and counters", _ls)
    for name, text in (("start", "start an algo"), ("stop", "stop an algo (feeds stay warm)")):
        add(name, text, _set).add_argument("name")
    add("rm", "stop an algo, cancel its orders and delete it", _rm).add_argument("name")
    p = add("logs", "an algo's log lines from each edge", _logs)
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=50)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines as the edges log them")
    p.add_argument("--interval", type=float, default=1.0, help="with -f: seconds between looks")
    p.add_argument("--seconds", type=float, default=0, help="with -f: stop after this many seconds (0: never)")
    add_backtest(sub)
