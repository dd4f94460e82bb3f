"""`seqmesh up`: a local deployment as real processes on loopback, in the foreground.

For now: simulated venues with one edge each, and a live BBO board read from the edges over
their mTLS gRPC link (the Central Coordinator joins this in the next step).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

#: Per-venue differences so the venues' prices and costs really differ.
VENUE_PROFILES: dict[str, tuple[str, str, str, str]] = {
    # venue: (price offset bps, maker fee, taker fee, extra latency ms)
    "binance": ("0", "0.001", "0.001", "1"),
    "kraken": ("3", "0.0016", "0.0026", "3"),
    "coinbase": ("-2", "0.004", "0.006", "2"),
    "okx": ("1", "0.0008", "0.001", "2"),
    "bybit": ("-1", "0.001", "0.001", "2"),
}


async def _up(args: Any) -> int:
    from seqmesh.runtime.links.edge_client import EdgeClient
    from seqmesh.runtime.links.tls import TlsFiles

    from seqmesh.common.certs_cli import dev_pki
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
        paths = dev_pki(work / "pki", "local", [("cc", "main")])
        tls = TlsFiles(paths["ca"][0], *paths["local-cc-main"])
        print(f"seqmesh up: {len(venues)} venues running; logs in {work / 'logs'}; Ctrl-C stops", flush=True)
        board: dict[tuple[str, str], Any] = {}
        clients = [EdgeClient(addr, tls) for addr in edges.values()]

        async def follow(client: EdgeClient) -> None:
            async for item in client.market_data():
                if item.WhichOneof("item") == "bbo":
                    board[(item.venue, item.bbo.symbol)] = item.bbo

        followers = [asyncio.create_task(follow(c)) for c in clients]
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.print_every)
            if sup.failed():
                print(f"seqmesh up: {', '.join(sup.failed())} exited; stopping", flush=True)
                return 1
            _print_board(board)
            if deadline and time.monotonic() >= deadline:
                break
        for task in followers:
            task.cancel()
        for c in clients:
            await c.close()
        return 0
    finally:
        await sup.stop()


def _print_board(board: dict[tuple[str, str], Any]) -> None:
    now = time.time_ns()
    lines = [f"{'venue':<10} {'symbol':<10} {'bid':>14} {'bid qty':>10} {'ask':>14} {'ask qty':>10} {'age ms':>7}"]
    for (venue, symbol), b in sorted(board.items()):
        age = (now - b.ts.edge_recv_ts) / 1e6 if b.ts.edge_recv_ts else float("nan")
        lines.append(f"{venue:<10} {symbol:<10} {b.bid_price:>14} {b.bid_qty:>10} {b.ask_price:>14} "
                     f"{b.ask_qty:>10} {age:>7.1f}")
    by_symbol: dict[str, list[Any]] = {}
    for (venue, symbol), b in board.items():
        by_symbol.setdefault(symbol, []).append((venue, b))
    for symbol, rows in sorted(by_symbol.items()):
        bids = [(Decimal(b.bid_price), v) for v, b in rows if b.bid_price]
        asks = [(Decimal(b.ask_price), v) for v, b in rows if b.ask_price]
        if bids and asks:
            (bid, bv), (ask, av) = max(bids), min(asks)
            lines.append(f"  best {symbol}: bid {bid} @{bv}  ask {ask} @{av}")
    print("\n".join(lines) + "\n", flush=True)


def _run(args: Any) -> int:
    return asyncio.run(_up(args))


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser("up", help="run a local deployment in the foreground")
    p.add_argument("--venues", default="binance,kraken,coinbase")
    p.add_argument("--symbols", default="BTC/USDT,ETH/USDT")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work-dir", default=".cache/up")
    p.add_argument("--print-every", type=float, default=2.0, help="seconds between board prints")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)")
    p.set_defaults(handler=_run)
