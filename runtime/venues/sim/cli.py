"""`seqmesh sim`: start one simulated venue."""

from __future__ import annotations

import argparse
import logging
from decimal import Decimal
from typing import Any


def _run(args: Any) -> int:
    from pydantic import ValidationError

    from .config import FlowSettings, VenueSettings
    from .server import SimVenue

    keys = dict(VenueSettings().api_keys)
    passphrases = dict(VenueSettings().passphrases)
    for spec in args.api_key:
        key, sep, secret = spec.partition(":")
        if args.dialect == "okx":  # OKX signs with a passphrase too
            secret, sep2, passphrase = secret.partition(":")
            if not sep2 or not passphrase:
                raise SystemExit(f"seqmesh sim: with --dialect okx, --api-key must be KEY:SECRET:PASSPHRASE, "
                                 f"got {spec!r}")
            passphrases[key] = passphrase
        if not sep or not key or not secret:
            raise SystemExit(f"seqmesh sim: --api-key must be KEY:SECRET, got {spec!r}")
        keys[key] = secret
    limit, sep, window = args.rate_limit.partition("/")
    if not (sep and limit.isdigit() and window.isdigit()):
        raise SystemExit(f"seqmesh sim: --rate-limit must be REQUESTS/WINDOW_MS, got {args.rate_limit!r}")
    balances = dict(VenueSettings().starting_balances)
    for spec in args.balance:
        asset, sep, amount = spec.partition("=")
        if not sep or not asset:
            raise SystemExit(f"seqmesh sim: --balance must be ASSET=AMOUNT, got {spec!r}")
        balances[asset.upper()] = Decimal(amount)
    permissions: dict[str, Any] = {}  # checked by VenueSettings
    for spec in args.key_permissions:
        key, sep, perms = spec.partition("=")
        if not sep or not key:
            raise SystemExit(f"seqmesh sim: --key-permissions must be KEY=PERM[,PERM...], got {spec!r}")
        permissions[key] = [p.strip() for p in perms.split(",") if p.strip()]
    try:
        settings = VenueSettings(
            api_keys=keys, permissions=permissions, passphrases=passphrases, starting_balances=balances,
            venue=args.venue, dialect=args.dialect, rate_limit=int(limit), rate_limit_window_ms=int(window),
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
        await venue.start(args.host, args.port)
        rest, ws = venue.urls(args.host)
        print(f"venue {settings.venue} ready: {rest}  {ws} ({settings.dialect} dialect)", flush=True)
        await eventloop.until_stopped()
        await venue.stop()


    from seqmesh.common import eventloop

    eventloop.run(main())
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim", help="run a simulated venue speaking an exchange's dialect (Binance spot or OKX v5)")
    p.add_argument("--venue", default="binance", help="venue name (labels only)")
    p.add_argument("--dialect", choices=["binance", "okx"], default="binance",
                   help="the exchange API served: Binance spot (/api/v3, /stream) or OKX v5 (/api/v5, /ws/v5/public)")
    p.add_argument("--rate-limit", default="60/2000", metavar="REQUESTS/WINDOW_MS",
                   help="okx dialect: each API key may call each private endpoint this often per window "
                        "(default 60/2000, OKX's order limit); more is refused with code 50011, HTTP 429")
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
    p.add_argument("--api-key", action="append", default=[], metavar="KEY:SECRET[:PASSPHRASE]",
                   help="an extra funded account (repeatable; the okx dialect needs the passphrase); "
                        "seqmesh-demo:seqmesh-demo-secret(:seqmesh-demo-passphrase) always exists")
    p.add_argument("--key-permissions", action="append", default=[], metavar="KEY=PERM[,PERM...]",
                   help="what an API key may do: read, trade, withdraw (repeatable; default read,trade), as "
                        "Binance's /sapi/v1/account/apiRestrictions or OKX's /api/v5/account/config report it")
    p.set_defaults(handler=_run)
