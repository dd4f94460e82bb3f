"""`seqmesh algo deploy|ls|start|stop|logs|rm`: WebAssembly algos through the CC's REST API."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from .api import DEFAULT_KEY, DEFAULT_URL, ApiError, CCClient
from .tables import table

SETTLED = ("Running", "Stopped", "Failed", "Refused")


def _client(args: Any) -> CCClient:
    return CCClient(args.api, args.key)


def _edge_rows(algo: dict[str, Any]) -> list[list[Any]]:
    return [[algo["name"], e["edge"], e["state"], e.get("calls", ""), e.get("orders", ""), e.get("fills", ""),
             e.get("messages", ""), e.get("traps", ""), e.get("denied", ""), e.get("reason") or ""]
            for e in algo["edges"]]


HEADERS = ["algo", "edge", "state", "calls", "orders", "fills", "msgs", "traps", "denied", "reason"]


def _deploy(args: Any) -> int:
    path = Path(args.file)
    try:
        wasm = path.read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    name = args.name or path.stem.replace("_", "-").lower()
    params = dict(p.partition("=")[::2] for p in args.param)
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
        rows = [row for a in c.algos() for row in _edge_rows(a)]
        print(table(HEADERS, rows) if rows else "no algos")
    return 0


def _set(args: Any) -> int:
    with _client(args) as c:
        try:
            algo = c.start_algo(args.name) if args.command_name == "start" else c.stop_algo(args.name)
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        print(table(HEADERS, _edge_rows(algo)))
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


def _logs(args: Any) -> int:
    with _client(args) as c:
        try:
            logs = c.algo_logs(args.name)
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    for edge, lines in logs.items():
        for line in lines[-args.tail:]:
            print(f"[{edge}] {line}")
    return 0


def register(subparsers: Any) -> None:
    top = subparsers.add_parser("algo", help="deploy and run WebAssembly algos on the region's edges")
    sub = top.add_subparsers(dest="algo_command", required=True)

    def add(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--api", default=os.environ.get("SEQMESH_API", DEFAULT_URL), help="CC URL (or SEQMESH_API)")
        p.add_argument("--key", default=os.environ.get("SEQMESH_KEY", DEFAULT_KEY), help="API key (or SEQMESH_KEY)")
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
    add("ls", "algos and their per-edge state and counters", _ls)
    for name, text in (("start", "start an algo"), ("stop", "stop an algo (feeds stay warm)")):
        add(name, text, _set).add_argument("name")
    add("rm", "stop an algo, cancel its orders and delete it", _rm).add_argument("name")
    p = add("logs", "an algo's log lines from each edge", _logs)
    p.add_argument("name")
    p.add_argument("--tail", type=int, default=50)
