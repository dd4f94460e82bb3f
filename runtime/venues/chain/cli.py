"""`seqmesh chain`: EVM chains on loopback with Uniswap V2 pools and traders moving them.

One anvil per `--chain` (default: all five), the tokens, factory, Router02 and pools deployed
for `--seed`, and the synthetic flow swapping every `--flow-interval` seconds (the chain's
block time by default). Prints one JSON line per chain when it is ready (also written to
`--out`), then runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the handler imports web3 only when it runs: `seqmesh --help` stays fast
    from .deploy import V2Deployment
    from .deploy_v3 import V3Deployment


def describe(name: str, url: str, deployment: V2Deployment, v3: V3Deployment | None = None) -> dict[str, Any]:
    """The JSON a client needs to find a chain's market: its node and contract addresses (and,
    when deployed, the V3 contracts and pools under "v3", pools keyed "BASE/QUOTE@fee")."""
    data = asdict(deployment)
    data["pairs"] = {f"{base}/{quote}": pair for (base, quote), pair in data["pairs"].items()}
    if v3 is not None:
        v3_data = asdict(v3)
        v3_data["pools"] = {f"{base}/{quote}@{fee}": pool for (base, quote, fee), pool in v3_data["pools"].items()}
        data["v3"] = v3_data
    return {"chain": name, "url": url, **data}


def _run(args: Any) -> int:
    from seqmesh.runtime.dex.chains import CHAINS, chain
    from web3 import Web3

    from .anvil import Anvil
    from .deploy import deploy_v2
    from .deploy_v3 import deploy_v3
    from .flow import FlowSettings, SwapFlow
    from .flow_v3 import V3SwapFlow
    from .funding import fund_account
    from .stepping import TimedFlow

    names = args.chain or list(CHAINS)
    try:
        specs = [chain(n) for n in names]
        if args.block_time is not None and args.block_time <= 0:
            raise ValueError(f"--block-time must be positive, got {args.block_time}")
        bad = [a for a in args.fund or () if not Web3.is_address(a)]
        if bad:
            raise ValueError(f"--fund takes account addresses (0x and 40 hex digits), got {bad}")
    except ValueError as e:
        raise SystemExit(f"seqmesh chain: {e}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    nodes: list[Anvil] = []
    flows: list[TimedFlow] = []
    ready = []
    try:
        for spec in specs:
            node = Anvil(spec, automine=args.automine, block_time=args.block_time).start()
            nodes.append(node)
            deployment = deploy_v2(node.w3, args.seed)
            v3 = deploy_v3(node.w3, deployment) if args.v3 else None
            for address in args.fund or ():
                fund_account(node.w3, deployment, address)
            if not args.no_flow:
                interval = args.flow_interval or (node.block_time or 1.0)
                flow = SwapFlow(node.w3, deployment, args.seed, FlowSettings(interval=interval))
                flow.start()
                flows.append(flow)
                if v3 is not None:
                    v3_flow = V3SwapFlow(node.w3, deployment, v3, args.seed, FlowSettings(interval=interval))
                    v3_flow.start()
                    flows.append(v3_flow)
            line = describe(spec.name, node.url, deployment, v3)
            ready.append(line)
            print(json.dumps(line), flush=True)
        if args.out:
            tmp = Path(args.out).with_suffix(".tmp")
            tmp.write_text(json.dumps(ready, indent=2))
            tmp.replace(args.out)
        print(f"chains ready: {', '.join(c['chain'] for c in ready)}", flush=True)
        stop.wait()
    finally:
        for running in flows:
            running.stop()
        for node in nodes:
            node.stop()
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "chain", help="run EVM chains (anvil) with Uniswap V2 pools and synthetic traders")
    p.add_argument("--chain", action="append", metavar="NAME",
                   help="ethereum, arbitrum, base, optimism or polygon; repeat for several (default: all)")
    p.add_argument("--seed", type=int, default=1, help="decides accounts, addresses and the flow")
    p.add_argument("--automine", action="store_true", help="a block per transaction instead of the chain's interval")
    p.add_argument("--block-time", type=float, default=None, help="seconds between blocks (default: the chain's)")
    p.add_argument("--fund", action="append", metavar="ADDRESS",
                   help="give this account gas money and a float of every token (a DEX edge's); repeatable")
    p.add_argument("--flow-interval", type=float, default=None, help="seconds between swaps (default: block time)")
    p.add_argument("--no-flow", action="store_true", help="deploy only; no synthetic traders")
    p.add_argument("--v3", action="store_true",
                   help="also deploy Uniswap V3 (factory, SwapRouter, QuoterV2, pools with concentrated liquidity)")
    p.add_argument("--out", default=None, help="also write the ready chains as a JSON list to this file")
    p.set_defaults(handler=_run)
