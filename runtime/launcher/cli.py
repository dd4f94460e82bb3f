"""`seqmesh up`: a region as real processes on loopback, in the foreground.

Simulated venues (each with its own prices, fees and latency), one edge per venue, and the
region's Central Coordinator; prints the API address and a live NBBO board until Ctrl-C,
then stops every process. `--demo` submits a few orders and prints their TCA.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Any

#: Per-venue differences so the venues' prices and costs really differ.
CC_READY = r"cc \S+ ready: (http://\S+) "
VENUE_PROFILES: dict[str, tuple[str, str, str, str]] = {
    # venue: (price offset bps, maker fee, taker fee, extra latency ms)
    "binance": ("0", "0.001", "0.001", "1"),
    "kraken": ("-1.5", "0.0012", "0.0016", "3"),
    "coinbase": ("-1", "0.0006", "0.0014", "2"),
    "okx": ("1", "0.0008", "0.001", "2"),
    "bybit": ("-0.5", "0.001", "0.001", "2"),
}


async def _up(args: Any) -> int:
    from seqmesh.testing.mesh import EDGE_READY, SIM_READY

    from .supervisor import Supervisor

    work = Path(args.work_dir)
    venues = [v.strip() for v in args.venues.split(",") if v.strip()]
    unknown = [v for v in venues if v not in VENUE_PROFILES]
    if unknown:
        raise SystemExit(f"seqmesh up: no simulator profile for {unknown}; choose from {sorted(VENUE_PROFILES)}")
    sup = Supervisor(work / "logs")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    edges: dict[str, str] = {}
    try:
        for i, venue in enumerate(venues):
            offset, maker, taker, latency = VENUE_PROFILES[venue]
            m = await sup.start(f"sim-{venue}", ["sim", "--venue", venue, "--seed", str(args.seed + i),
                                                 "--symbols", args.symbols, "--price-offset-bps", offset,
                                                 "--maker-fee", maker, "--taker-fee", taker,
                                                 "--latency-ms", latency], SIM_READY)
            sim_url = f"http://127.0.0.1:{m.group(2)}"
            m = await sup.start(f"edge-{venue}", ["edge", "--venue", venue, "--sim-url", sim_url,
                                                  "--symbols", args.symbols, "--dev-pki", str(work / "pki"),
                                                  "--state-dir", str(work / "state")], EDGE_READY)
            edges[venue] = f"127.0.0.1:{m.group(2)}"
            print(f"  {venue:<10} simulator {sim_url}   edge grpc {edges[venue]}", flush=True)
        cc_args = ["cc", "--region", args.region, "--listen", f"127.0.0.1:{args.api_port}", "--dev-pki",
                   str(work / "pki"), "--db", str(work / "cc" / "ledger.sqlite")]
        for venue, addr in edges.items():
            cc_args += ["--edge", f"{venue}={addr}"]
        m = await sup.start("cc", cc_args, CC_READY)
        api = m.group(1)
        print(f"\nseqmesh up: region {args.region} with {len(venues)} venues.  API: {api}  "
              f"(OpenAPI {api}/docs, key seqmesh-dev-key)\nlogs in {work / 'logs'}; Ctrl-C stops everything\n",
              flush=True)
        await _wait_for_books(api, args.symbols.split(",")[0], stop)
        if args.demo:
            from seqmesh.client.cli import demo

            await asyncio.to_thread(demo, api, "seqmesh-dev-key")
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.print_every)
            if sup.failed():
                print(f"seqmesh up: {', '.join(sup.failed())} exited; stopping", flush=True)
                return 1
            if args.print_every > 0:
                await asyncio.to_thread(_print_board, api, args.symbols.split(","))
            if deadline and time.monotonic() >= deadline:
                break
        return 0
    finally:
        await sup.stop()


async def _wait_for_books(api: str, symbol: str, stop: asyncio.Event, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": "Bearer seqmesh-dev-key"}) as http:
        while time.monotonic() < deadline and not stop.is_set():
            resp = await http.get(f"/v1/nbbo/{symbol}")
            if resp.status_code == 200 and resp.json()["bid"] and resp.json()["ask"]:
                return
            await asyncio.sleep(0.2)


def _print_board(api: str, symbols: list[str]) -> None:
    from seqmesh.client.api import CCClient
    from seqmesh.client.tables import table

    with CCClient(api) as c:
        for symbol in symbols:
            rows = c.bbo(symbol)
            n = c.nbbo(symbol)
            print(table(["venue", "bid", "bid qty", "ask", "ask qty", "stale", "edge->cc ms"],
                        [[r["venue"], r["bid"], r["bid_qty"], r["ask"], r["ask_qty"], r["stale"],
                          f"{(r['ts']['cc_proc_ts'] - r['ts']['edge_recv_ts']) / 1e6:.2f}"] for r in rows]))
            bid, ask = n["bid"] or {}, n["ask"] or {}
            print(f"NBBO {symbol}: {bid.get('price')} @{bid.get('venue')} / {ask.get('price')} @{ask.get('venue')}"
                  f"  spread {n['spread_bps']} bps\n", flush=True)


def _run(args: Any) -> int:
    return asyncio.run(_up(args))


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser("up", help="run a local deployment in the foreground")
    p.add_argument("--venues", default="binance,kraken,coinbase")
    p.add_argument("--symbols", default="BTC/USDT,ETH/USDT")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work-dir", default=".cache/up")
    p.add_argument("--region", default="local")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--demo", action="store_true", help="submit a few orders and print their TCA once up")
    p.add_argument("--print-every", type=float, default=5.0, help="seconds between board prints (0: never)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)")
    p.set_defaults(handler=_run)
