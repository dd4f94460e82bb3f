"""`seqmesh sim`: start one simulated venue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from decimal import Decimal
from typing import Any


def _run(args: Any) -> int:
    from pydantic import ValidationError

    from .config import FlowSettings, VenueSettings
    from .server import SimVenue

    keys = dict(VenueSettings().api_keys)
    for spec in args.api_key:
        key, sep, secret = spec.partition(":")
        if not sep or not key or not secret:
            raise SystemExit(f"seqmesh sim: --api-key must be KEY:SECRET, got {spec!r}")
        keys[key] = secret
    balances = dict(VenueSettings().starting_balances)
    for spec in args.balance:
        asset, sep, amount = spec.partition("=")
        if not sep or not asset:
            raise SystemExit(f"seqmesh sim: --balance must be ASSET=AMOUNT, got {spec!r}")
        balances[asset.upper()] = Decimal(amount)
    try:
        settings = VenueSettings(
            api_keys=keys, starting_balances=balances,
            venue=args.venue,
            symbols=[s.strip() for s in args.symbols.split(",") if s.strip()],
            seed=args.seed,
            maker_fee=Decimal(args.maker_fee),
            taker_fee=Decimal(args.taker_fee),
            price_offset_bps=Decimal(args.price_offset_bps),
            extra_latency_ms=args.latency_ms,
            flow=FlowSettings(depth=args.depth, interval_ms=args.flow_interval_ms,
                              volatility_bps=Decimal(args.volatility_bps), taker_probability=args.taker_probability),
        )
    except (ValidationError, ArithmeticError) as exc:
        raise SystemExit(f"seqmesh sim: invalid settings: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def main() -> None:
        venue = SimVenue(settings)
        port = await venue.start(args.host, args.port)
        print(f"venue {settings.venue} ready: http://{args.host}:{port}/api/v3  ws://{args.host}:{port}/stream",
              flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await venue.stop()

    from seqmesh.common import eventloop

    eventloop.run(main())
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim", help="run a simulated venue speaking the Binance spot dialect")
    p.add_argument("--venue", default="binance", help="venue name (labels only)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--symbols", default="BTC/USDT,ETH/USDT")
    p.add_argument("--maker-fee", default="0.001")
    p.add_argument("--taker-fee", default="0.001")
    p.add_argument("--price-offset-bps", default="0")
    p.add_argument("--latency-ms", type=float, default=0.0, help="extra latency on every reply and frame")
    p.add_argument("--depth", type=int, default=20, help="levels quoted per side by each maker")
    p.add_argument("--flow-interval-ms", type=int, default=50)
    p.add_argument("--volatility-bps", default="0.3", help="random-walk step of the mid, per flow step")
    p.add_argument("--taker-probability", type=float, default=0.3, help="chance of a market order per step")
    p.add_argument("--balance", action="append", default=[], metavar="ASSET=AMOUNT",
                   help="starting balance of every account for ASSET (repeatable)")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY:SECRET",
                   help="an extra funded account (repeatable); seqmesh-demo:seqmesh-demo-secret always exists")
    p.set_defaults(handler=_run)
