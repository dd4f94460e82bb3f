"""`seqmesh solana`: the Solana RFQ venue on loopback (a real SVM, Solana JSON-RPC, a quoting maker).

Prints `solana venue ready: http://HOST:PORT ...` once it serves; the same URL is the JSON-RPC
endpoint and the RFQ API's base. Every `--taker-keypair` file is funded at genesis (created
from the seed if it does not exist, in `solana-keygen`'s format); runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

READY = r"solana venue ready: http://([\d.]+):(\d+)"


def _run(args: Any) -> int:
    from .bank import ChainSettings
    from .keys import keypair_file
    from .maker import MakerSettings
    from .server import SolanaVenue, VenueSettings

    try:
        takers = [keypair_file(Path(p), args.seed, f"taker-{i}").pubkey() for i, p in enumerate(args.taker_keypair)]
        settings = VenueSettings(
            seed=args.seed, symbols=tuple(s.strip() for s in args.symbols.split(",") if s.strip()),
            chain=ChainSettings(slot_ms=args.slot_ms, max_age=args.max_age, confirmed_depth=args.confirmed_depth,
                                finalized_depth=args.finalized_depth),
            maker=MakerSettings(volatility_bps=Decimal(args.volatility_bps), spread_bps=Decimal(args.spread_bps)),
            quote_ttl_blocks=args.quote_ttl, flow_interval_ms=args.flow_interval_ms, takers=tuple(takers),
            send_latency_ms=args.send_latency_ms, drop_transactions=args.drop_transactions)
        if args.quote_ttl > args.max_age:
            raise ValueError(f"--quote-ttl ({args.quote_ttl}) cannot exceed --max-age ({args.max_age})")
        venue = SolanaVenue(settings)
    except (ValueError, InvalidOperation) as exc:
        raise SystemExit(f"seqmesh solana: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def main() -> None:
        port = await venue.start(args.host, args.port)
        print(f"solana venue ready: http://{args.host}:{port} (JSON-RPC at /, RFQ at /rfq) venue "
              f"{venue.genesis.venue.pubkey()} takers {' '.join(str(t) for t in takers) or '-'}", flush=True)
        await eventloop.until_stopped()
        await venue.stop()


    from seqmesh.common import eventloop

    eventloop.run(main())
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "solana", help="run the Solana RFQ venue (LiteSVM, SPL tokens, Solana JSON-RPC, a quoting maker)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1, help="decides keys, mint addresses and the maker's walk")
    p.add_argument("--symbols", default="BTC/USDT,ETH/USDT")
    p.add_argument("--taker-keypair", action="append", default=[], metavar="FILE",
                   help="fund this taker at genesis; the file is created from the seed if absent (repeatable)")
    p.add_argument("--slot-ms", type=float, default=400.0, help="slot time (mainnet: 400)")
    p.add_argument("--max-age", type=int, default=150, help="blocks a blockhash stays usable (mainnet: 150)")
    p.add_argument("--confirmed-depth", type=int, default=1, help="blocks on top for 'confirmed'")
    p.add_argument("--finalized-depth", type=int, default=32, help="blocks on top for 'finalized'")
    p.add_argument("--quote-ttl", type=int, default=40, help="blocks a quote's transaction can land in")
    p.add_argument("--volatility-bps", default="0.5", help="random-walk step of the maker's mid (0: still)")
    p.add_argument("--spread-bps", default="4", help="between the maker's best bid and best ask")
    p.add_argument("--flow-interval-ms", type=float, default=500.0, help="how often the mid moves")
    p.add_argument("--send-latency-ms", type=float, default=0.0, help="delay before a sent transaction is processed")
    p.add_argument("--drop-transactions", type=int, default=0,
                   help="lose the first N transactions sent (and their resends): they never land")
    p.set_defaults(handler=_run)
