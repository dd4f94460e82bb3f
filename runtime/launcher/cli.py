"""`seqmesh up`: regions as real processes on loopback, in the foreground.

By default the seed's three regions (na, eu, ap), each with its own CA, simulated venues
(their own prices, fees and latency), one edge per venue and a Central Coordinator, the CCs
joined in the peer mesh. Prints the API addresses and a live NBBO board until Ctrl-C, then
stops every process. `--demo` submits a few orders and prints their TCA.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

#: Per-venue differences so the venues' prices and costs really differ:
#: venue -> (price offset bps, maker fee, taker fee, extra latency ms).
VENUE_PROFILES: dict[str, tuple[str, str, str, str]] = {
    "binance": ("0", "0.001", "0.001", "1"),
    "kraken": ("-1.5", "0.0012", "0.0016", "3"),
    "coinbase": ("-1", "0.0006", "0.0014", "2"),
    "okx": ("1", "0.0008", "0.001", "2"),
    "bybit": ("-0.5", "0.001", "0.001", "2"),
    "bitmart": ("2", "0.001", "0.0025", "3"),
}
DEFAULT_PROFILE = ("0", "0.001", "0.002", "2")
#: `--wan`: one-way delay (ms) of each peer link, for round trips in the seed's 60-120 ms band.
WAN_ONE_WAY_MS = {frozenset({"na", "eu"}): 40, frozenset({"na", "ap"}): 60, frozenset({"eu", "ap"}): 50}
#: The seed's table, trimmed so a laptop runs it: one or two venues per region by default.
DEFAULT_REGION_VENUES = {"na": ["coinbase"], "eu": ["kraken", "bitmart"], "ap": ["binance", "okx"],
                         "local": ["binance", "kraken", "coinbase"]}


def dev_client_key(work: Path) -> str:
    """The development client's key: made once (256 random bits) and kept in the work dir, readable
    by its owner only, so a restarted `seqmesh up` and the `seqmesh` commands (api.default_key)
    keep using it. Only its SHA-256 goes to the CCs."""
    from seqmesh.runtime.cc.clients import new_key

    from seqmesh.client.api import UP_KEY_FILE

    path = work / UP_KEY_FILE
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    work.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def _plan(args: Any) -> dict[str, list[str]]:
    from seqmesh.common.venues import REGION_VENUES, check_region

    regions = [check_region(r.strip()) for r in args.regions.split(",") if r.strip()]
    if args.venues:  # only with one region: the venues of that region
        if len(regions) != 1:
            raise SystemExit("seqmesh up: --venues goes with a single --regions value")
        return {regions[0]: [v.strip() for v in args.venues.split(",") if v.strip()]}
    table: dict[str, list[str]] = ({r: list(v) for r, v in REGION_VENUES.items()} if args.all_venues
                                   else DEFAULT_REGION_VENUES)
    missing = [r for r in regions if r not in table]
    if missing:
        raise SystemExit(f"seqmesh up: no venue list for regions {missing}; give --regions R --venues A,B")
    return {r: table[r] for r in regions}


async def _up(args: Any) -> int:
    from seqmesh.runtime.cc.domain import key_digest
    from seqmesh.runtime.venues.sim.config import native_dialect

    from seqmesh.common.certs_cli import dev_pki
    from seqmesh.common.venues import venue_kind

    from .ready import CC_READY, EDGE_READY, SIM_READY, free_port
    from .supervisor import Supervisor

    work = Path(args.work_dir)
    plan = _plan(args)
    # The development client is an admin: the deployment is its user's alone, and the admin role is
    # what lets them try everything (the region's kill switch, making trader clients to try roles).
    key = dev_client_key(work)
    sup = Supervisor(work / "logs")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    apis: dict[str, str] = {}
    toxi: Any = None
    try:
        cas = {r: dev_pki(work / r / "pki", r, [("cc", "main")])["ca"][0] for r in plan}  # one CA per region
        peer_ports = {r: free_port() for r in plan}
        routes = {(a, b): f"127.0.0.1:{peer_ports[b]}" for a in plan for b in plan if a != b}
        if args.wan and len(plan) > 1:
            from seqmesh.testing.toxiproxy import Toxiproxy

            toxi = Toxiproxy(work / "logs")
            route = toxi.router(lambda a, b: WAN_ONE_WAY_MS.get(frozenset({a, b}), 45), jitter_ms=5)
            routes = {(a, b): route(a, b, endpoint) for (a, b), endpoint in routes.items()}
            print(f"  WAN: Toxiproxy on every peer link (API 127.0.0.1:{toxi.port}); one-way delays "
                  + ", ".join(f"{'-'.join(sorted(k))} {v} ms" for k, v in WAN_ONE_WAY_MS.items()), flush=True)
        seed = args.seed
        for r, venues in plan.items():
            edges: dict[str, str] = {}
            for venue in venues:
                if venue_kind(venue) == "dex":  # a real chain with pools, not an order-book simulator
                    edges[venue] = await _start_dex(sup, work, r, venue, seed, args.symbols)
                    seed += 1
                    continue
                if venue_kind(venue) == "rfq":  # the Solana RFQ venue on a real SVM
                    edges[venue] = await _start_solana(sup, work, r, seed, args.symbols)
                    seed += 1
                    continue
                offset, maker, taker, latency = VENUE_PROFILES.get(venue, DEFAULT_PROFILE)
                dialect = native_dialect(venue)  # each venue's own where the simulator speaks it
                m = await sup.start(f"{r}-sim-{venue}", ["sim", "--venue", venue, "--dialect", dialect,
                                                        "--seed", str(seed),
                                                        "--symbols", args.symbols, "--price-offset-bps", offset,
                                                        "--maker-fee", maker, "--taker-fee", taker,
                                                        "--latency-ms", latency], SIM_READY)
                seed += 1
                sim_url = f"http://127.0.0.1:{m.group(2)}"
                m = await sup.start(f"{r}-edge-{venue}", ["edge", "--venue", venue, "--region", r, "--sim-url",
                                                         sim_url, "--sim-dialect", dialect, "--symbols", args.symbols,
                                                         "--dev-pki",
                                                         str(work / r / "pki"), "--state-dir",
                                                         str(work / r / "state")], EDGE_READY)
                edges[venue] = f"127.0.0.1:{m.group(2)}"
                print(f"  {r:<6} {venue:<12} simulator {sim_url}   edge grpc {edges[venue]}   ({dialect} dialect)",
                      flush=True)
            port = args.api_port + list(plan).index(r)
            cc_args = ["cc", "--region", r, "--listen", f"127.0.0.1:{port}", "--dev-pki", str(work / r / "pki"),
                       "--db", str(work / r / "cc" / "ledger.sqlite"), "--client", f"dev:admin:{key_digest(key)}"]
            for venue, addr in edges.items():
                cc_args += ["--edge", f"{venue}={addr}"]
            if len(plan) > 1:
                cc_args += ["--listen-peer", f"127.0.0.1:{peer_ports[r]}"]
                cc_args += [a for o in plan if o != r for a in ("--peer", f"{o}@{routes[(r, o)]}@{cas[o]}")]
            apis[r] = (await sup.start(f"{r}-cc", cc_args, CC_READY)).group(2)
        first = next(iter(apis.values()))
        print("\nseqmesh up: " + "   ".join(f"{r} API {a}" for r, a in apis.items()) +
              f"\n(OpenAPI at /docs; every CC shows the global view)\n"
              f"dashboard {first}/ui/ (asks for the key below)\n"
              f"development client dev (admin), key {key}\n(kept in {work / 'client.key'}: the seqmesh "
              "commands run from this directory use it; elsewhere export SEQMESH_KEY)\n"
              f"logs in {work / 'logs'}; Ctrl-C stops everything\n", flush=True)
        await _wait_for_books(first, key, args.symbols.split(",")[0], stop)
        if args.demo:
            from seqmesh.client.cli import demo

            await asyncio.to_thread(demo, first, key)
            from seqmesh.client.cli import demo_algos

            await asyncio.to_thread(demo_algos, list(apis.values()), key, Path(args.algos))
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.print_every or 1.0)
            if sup.failed():
                print(f"seqmesh up: {', '.join(sup.failed())} exited; stopping", flush=True)
                return 1
            if args.print_every > 0:
                await asyncio.to_thread(_print_board, first, key, args.symbols.split(","))
            if deadline and time.monotonic() >= deadline:
                break
        return 0
    finally:
        await sup.stop()
        if toxi is not None:
            toxi.stop()


async def _start_dex(sup: Any, work: Path, region: str, venue: str, seed: int, symbols: str) -> str:
    """An anvil for the venue's chain with the V2 market and its traders (`seqmesh chain`), and the
    DEX edge on it, signing with a key of its own that the chain funds; returns the edge's address."""
    from eth_account import Account
    from seqmesh.runtime.dex.chains import chain
    from web3 import Web3

    from seqmesh.common.venues import dex_chain

    from .ready import CHAIN_READY, EDGE_READY

    spec = chain(dex_chain(venue))
    # derived from names anyone knows: only ever funded on this loopback chain
    key = Account.from_key(Web3.keccak(text=f"seqmesh up dex key/{region}/{venue}/{seed}"))
    out = work / region / "chains" / f"{spec.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The chain's own block time, capped so a block comes within 2 s (Ethereum's 12 s would stall a demo).
    await sup.start(f"{region}-chain-{spec.name}", [
        "chain", "--chain", spec.name, "--seed", str(seed), "--block-time", str(min(spec.block_time, 2.0)),
        "--fund", key.address, "--out", str(out)], CHAIN_READY)
    url = json.loads(out.read_text())[0]["url"]
    m = await sup.start(f"{region}-edge-{venue}", [
        "edge", "--venue", venue, "--region", region, "--chain-rpc", url, "--deployment", str(out),
        "--symbols", symbols, "--dev-pki", str(work / region / "pki"), "--state-dir", str(work / region / "state")],
        EDGE_READY, env={"SEQMESH_DEX_PRIVATE_KEY": key.key.to_0x_hex()})
    address = f"127.0.0.1:{m.group(2)}"
    print(f"  {region:<6} {venue:<12} anvil {url} (chain id {spec.chain_id})   edge grpc {address}", flush=True)
    return address


async def _start_solana(sup: Any, work: Path, region: str, seed: int, symbols: str) -> str:
    """The Solana RFQ venue (`seqmesh solana`), funding a taker key of the region's, and the edge
    trading on it with that key; returns the edge's address."""
    from seqmesh.runtime.venues.solana.cli import READY as SOLANA_READY
    from seqmesh.runtime.venues.solana.markets import MARKETS

    from .ready import EDGE_READY

    keypair = work / region / "solana-taker.json"  # created from the seed by the venue, kept for restarts
    m = await sup.start(f"{region}-solana", ["solana", "--seed", str(seed), "--taker-keypair", str(keypair)],
                        SOLANA_READY)
    url = f"http://127.0.0.1:{m.group(2)}"
    quoted = ",".join(s for s in symbols.split(",") if s in MARKETS) or ",".join(MARKETS)
    m = await sup.start(f"{region}-edge-solana", [
        "edge", "--venue", "solana", "--region", region, "--solana-rpc", url, "--solana-keypair", str(keypair),
        "--symbols", quoted, "--dev-pki", str(work / region / "pki"), "--state-dir", str(work / region / "state")],
        EDGE_READY)
    address = f"127.0.0.1:{m.group(2)}"
    print(f"  {region:<6} {'solana':<12} SVM + RPC {url}   edge grpc {address}", flush=True)
    return address


async def _wait_for_books(api: str, key: str, symbol: str, stop: asyncio.Event, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
        while time.monotonic() < deadline and not stop.is_set():
            resp = await http.get(f"/v1/nbbo/{symbol}")
            if resp.status_code == 200 and resp.json()["bid"] and resp.json()["ask"]:
                return
            await asyncio.sleep(0.2)


def _print_board(api: str, key: str, symbols: list[str]) -> None:
    from seqmesh.client.api import CCClient
    from seqmesh.client.tables import table

    with CCClient(api, key) as c:
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
    p.add_argument("--regions", default="na,eu,ap", help="regions to run, joined in the peer mesh")
    p.add_argument("--venues", help="with one region: its venues (default: the seed's table, trimmed)")
    p.add_argument("--all-venues", action="store_true", help="every venue of the seed's regional table")
    p.add_argument("--wan", action="store_true",
                   help="put Toxiproxy (hack/build-k8s.sh builds it) on every peer link: 80-120 ms round trips")
    p.add_argument("--symbols", default="BTC/USDT,ETH/USDT")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work-dir", default=".cache/up")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--demo", action="store_true",
                   help="submit a few orders and print their TCA once up, and deploy the example algos")
    p.add_argument("--algos", default=".cache/algos", metavar="DIR",
                   help="where --demo finds the built example algos (hack/build-algos.sh)")
    p.add_argument("--print-every", type=float, default=5.0, help="seconds between board prints (0: never)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)")
    p.set_defaults(handler=_run)
