"""`seqmesh edge`: run the edge server of one venue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any


def _settings(args: Any) -> Any:
    from pydantic import ValidationError

    from seqmesh.common.certs_cli import dev_pki

    from .config import EdgeSettings

    if args.dev_pki:
        paths = dev_pki(Path(args.dev_pki), args.region, [("edge", args.venue)])
        ca = paths["ca"][0]
        cert, key = paths[f"{args.region}-edge-{args.venue}"]
    else:
        if not (args.ca and args.cert and args.key):
            raise SystemExit("seqmesh edge: give --ca, --cert and --key, or --dev-pki DIR for a development CA")
        ca, cert, key = Path(args.ca), Path(args.cert), Path(args.key)
    api_key = args.api_key or os.environ.get("SEQMESH_API_KEY")
    secret = args.secret or os.environ.get("SEQMESH_API_SECRET")
    passphrase = args.passphrase or os.environ.get("SEQMESH_API_PASSPHRASE")
    if args.sim_url and not api_key:  # the simulator's demo account
        api_key, secret, passphrase = "seqmesh-demo", "seqmesh-demo-secret", "seqmesh-demo-passphrase"
    try:
        return EdgeSettings(
            venue=args.venue, exchange_id=args.exchange, sim_url=args.sim_url, sim_dialect=args.sim_dialect,
            region=args.region, passphrase=passphrase,
            symbols=[s.strip() for s in args.symbols.split(",") if s.strip()],
            api_key=api_key, secret=secret, listen=args.listen, ca=ca, cert=cert, key=key,
            state_dir=Path(args.state_dir), wrapping_keys=Path(args.wrapping_keys) if args.wrapping_keys else None,
            # A simulator has no venue-side limit worth protecting; real venues get a conservative one.
            rate_limit_per_s=args.rate_limit or (2000.0 if args.sim_url else 20.0),
            rate_limit_burst=args.burst or (4000.0 if args.sim_url else 40.0),
            poll_interval_s=args.poll_interval, durability=args.durability, commit_delay_ms=args.commit_delay_ms,
            solana=_solana(args), dex=_dex(args), record=Path(args.record) if args.record else None,
        )
    except ValidationError as exc:
        raise SystemExit(f"seqmesh edge: invalid settings: {exc}") from None


def _solana(args: Any) -> Any:
    """The Solana RFQ venue's settings, when its RPC is given."""
    if not args.solana_rpc:
        return None
    from .solana.settings import SolanaSettings

    if not args.solana_keypair:
        raise SystemExit("seqmesh edge: --solana-rpc needs --solana-keypair (the taker's key file)")
    return SolanaSettings(rpc_url=args.solana_rpc, rfq_url=args.solana_rfq, keypair=Path(args.solana_keypair),
                          commitment=args.solana_commitment)


def _dex(args: Any) -> Any:
    """A DEX venue's settings, when its chain's RPC is given; the key from SEQMESH_DEX_PRIVATE_KEY."""
    if not args.chain_rpc:
        return None
    from .dex.settings import DexSettings

    key = os.environ.get("SEQMESH_DEX_PRIVATE_KEY")
    if not key:
        raise SystemExit("seqmesh edge: --chain-rpc needs the signing key in SEQMESH_DEX_PRIVATE_KEY (hex)")
    return DexSettings(rpc_url=args.chain_rpc, private_key=key,
                       deployment=Path(args.deployment) if args.deployment else None, router=args.router,
                       confirmations=args.confirmations, slippage=args.slippage, uniswap=args.uniswap)


def _run(args: Any) -> int:
    from .app import EdgeApp

    settings = _settings(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def main() -> None:
        app = EdgeApp(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        starting = asyncio.create_task(app.start())
        done, _ = await asyncio.wait({starting, asyncio.create_task(stop.wait())},
                                     return_when=asyncio.FIRST_COMPLETED)
        if starting in done:
            port = starting.result()
            print(f"edge {settings.venue} ready: grpc 127.0.0.1:{port} ({len(app.instruments)} symbols)", flush=True)
            await stop.wait()
        else:
            starting.cancel()
        await app.stop()

    from seqmesh.common.profiling import maybe_profiled

    with maybe_profiled():
        from seqmesh.common import eventloop

        eventloop.run(main())
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser("edge", help="run the edge server of one venue")
    p.add_argument("--venue", required=True, help="venue id, e.g. binance")
    p.add_argument("--exchange", help="ccxt exchange id when it differs from the venue id")
    p.add_argument("--sim-url", help="trade against a simulator at this URL")
    p.add_argument("--sim-dialect", choices=["binance", "okx"], default="binance",
                   help="the dialect the simulator at --sim-url speaks (seqmesh sim --dialect)")
    p.add_argument("--region", default="local")
    p.add_argument("--symbols", default="", help="comma-separated; default: all spot markets")
    p.add_argument("--api-key", help="or SEQMESH_API_KEY")
    p.add_argument("--secret", help="or SEQMESH_API_SECRET")
    p.add_argument("--passphrase", help="the API key's passphrase where the venue has one (OKX); "
                                        "or SEQMESH_API_PASSPHRASE")
    p.add_argument("--listen", default="127.0.0.1:0", help="gRPC address (default: a free loopback port)")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--dev-pki", metavar="DIR", help="create/reuse a development CA and leaf in DIR")
    p.add_argument("--state-dir", default=".cache/edge")
    p.add_argument("--wrapping-keys", metavar="DIR",
                   help="the X25519 keys (*.pem; current: last by name) clients' credentials are wrapped for "
                        "(default: STATE_DIR/wrapping-keys, created with a first key); add one to rotate")
    p.add_argument("--record", metavar="FILE", help="write the market data to a recording for backtests "
                                                     "(docs/backtest.md)")
    p.add_argument("--rate-limit", type=float, help="venue requests per second (default 20; 2000 for a simulator)")
    p.add_argument("--burst", type=float, help="token bucket size (default 40; 4000 for a simulator)")
    p.add_argument("--poll-interval", type=float, default=0.25, help="seconds between trade polls")
    p.add_argument("--durability", choices=["power-loss", "process-crash"], default="power-loss",
                   help="what the journal's commits survive: power loss (fsync each) or a crash of the process")
    p.add_argument("--commit-delay-ms", type=float, default=2.0,
                   help="how long a recorded event may wait for its commit (default 2): acks go out first and "
                        "more events share the fsync")
    p.add_argument("--solana-rpc", metavar="URL", help="venue solana: its JSON-RPC endpoint")
    p.add_argument("--solana-rfq", metavar="URL", help="venue solana: the RFQ maker's API (default: the RPC URL)")
    p.add_argument("--solana-keypair", metavar="FILE", help="venue solana: the taker's keypair (solana-keygen JSON)")
    p.add_argument("--solana-commitment", choices=["processed", "confirmed", "finalized"], default="confirmed",
                   help="venue solana: how settled a transaction must be before its fill is booked")
    p.add_argument("--chain-rpc", metavar="URL", help="venue dex-<chain>: the chain's JSON-RPC endpoint")
    p.add_argument("--deployment", metavar="FILE", help="venue dex-<chain>: the pools' addresses "
                                                         "(seqmesh chain --out)")
    p.add_argument("--router", metavar="ADDRESS", help="venue dex-<chain>: a V2 router; its factory's pools are used")
    p.add_argument("--uniswap", choices=("v2", "v3"), default="v2",
                   help="venue dex-<chain>: v3 trades the deployment's V3 pools where a symbol has one")
    p.add_argument("--confirmations", type=int, help="venue dex-<chain>: blocks deep before a swap is filled "
                                                     "(default: the chain's)")
    p.add_argument("--slippage", default="0.005", help="venue dex-<chain>: a market swap's bound off the pool's "
                                                       "quote (default 0.005)")
    p.set_defaults(handler=_run)
