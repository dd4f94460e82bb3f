"""`seqmesh cc`: run the Central Coordinator of one region."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any


def _pair(spec: str, flag: str) -> tuple[str, str]:
    key, sep, value = spec.partition("=")
    if not sep or not key or not value:
        raise SystemExit(f"seqmesh cc: {flag} must be KEY=VALUE, got {spec!r}")
    return key, value


def _run(args: Any) -> int:
    from pydantic import ValidationError

    from seqmesh.common.certs_cli import dev_pki

    from .config import CCSettings, EdgeEndpoint, PeerEndpoint, RiskLimits

    if args.config:  # as the operator writes it (a ConfigMap mounted into the pod)
        import json

        try:
            settings = CCSettings.model_validate(json.loads(Path(args.config).read_text()))
        except (OSError, ValueError, ValidationError) as exc:
            raise SystemExit(f"seqmesh cc: invalid --config {args.config}: {exc}") from None
        return _serve(settings)
    if args.dev_pki:
        paths = dev_pki(Path(args.dev_pki), args.region, [("cc", "main")])
        ca, (cert, key) = paths["ca"][0], paths[f"{args.region}-cc-main"]
    elif args.ca and args.cert and args.key:
        ca, cert, key = Path(args.ca), Path(args.cert), Path(args.key)
    else:
        raise SystemExit("seqmesh cc: give --ca, --cert and --key, or --dev-pki DIR")
    edges = []
    for spec in args.edge:
        venue, sep, address = spec.partition("=")
        if not sep:
            raise SystemExit(f"seqmesh cc: --edge must be VENUE=HOST:PORT, got {spec!r}")
        edges.append({"venue": venue, "address": address})
    risk: dict[str, Any] = {}
    if args.max_position:
        risk["max_position"] = dict(_pair(s, "--max-position") for s in args.max_position)
    for name in ("max_order_notional", "daily_loss_limit", "max_orders_per_s", "order_burst"):
        if getattr(args, name) is not None:
            risk[name] = getattr(args, name)
    peers = []
    for spec in args.peer:
        parts = spec.split("@")
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"seqmesh cc: --peer must be REGION@HOST:PORT@CA_FILE, got {spec!r}")
        peers.append({"region": parts[0], "endpoint": parts[1], "ca": parts[2]})
    try:
        settings = CCSettings(region=args.region, listen_http=args.listen, edges=[EdgeEndpoint(**e) for e in edges],
                              ca=ca, cert=cert, key=key, db_path=Path(args.db), ledger_url=args.ledger,
                              risk=RiskLimits(**risk),
                              stale_after_s=args.stale_after, listen_peer=args.listen_peer,
                              peers=[PeerEndpoint(**p) for p in peers], peer_probe_s=args.peer_probe,
                              watch_algos_namespace=args.watch_algos, durability=args.durability,
                              final_orders_in_memory=args.final_orders_in_memory,
                              **({"clients": [_client_seed(s) for s in args.client]} if args.client else {}),
                              **({"requests_per_s": args.requests_per_s} if args.requests_per_s else {}))
    except ValidationError as exc:
        raise SystemExit(f"seqmesh cc: invalid settings: {exc}") from None
    settings.api_tls = _api_tls(args, cert, key)
    return _serve(settings)


def _api_tls(args: Any, cert: Path, key: Path) -> Any:
    """--https: the REST API over HTTPS with the CC's own certificate, or --https-cert/--https-key's."""
    from .config import ApiTls

    if bool(args.https_cert) != bool(args.https_key):
        raise SystemExit("seqmesh cc: --https-cert and --https-key go together")
    if args.https_cert:
        return ApiTls(cert=Path(args.https_cert), key=Path(args.https_key))
    return ApiTls(cert=cert, key=key) if args.https else None


def _clients_from_dir(directory: str) -> list[Any]:
    """A mounted Secret of client API keys: one file per client, named by client id (`ID.admin`
    for an admin), holding its key (or `sha256:` and its digest); only the digest is kept."""
    from .config import ClientSeed
    from .domain import key_digest

    seeds = []
    for path in sorted(Path(directory).iterdir()):
        if path.is_file() and not path.name.startswith("."):
            key = path.read_text().strip()
            if key:
                name, dot, suffix = path.name.partition(".")
                role = suffix if dot and suffix in ("admin", "monitor") else "trader"
                digest = key.removeprefix("sha256:") if key.startswith("sha256:") else key_digest(key)
                seeds.append(ClientSeed(id=name if role != "trader" else path.name, role=role, key_sha256=digest))
    return seeds


def _client_seed(spec: str) -> dict[str, str]:
    """--client ID:ROLE:SHA256 (the key's SHA-256 in hex, never the key)."""
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise SystemExit(f"seqmesh cc: --client must be ID:ROLE:SHA256, got {spec!r}")
    return {"id": parts[0], "role": parts[1], "key_sha256": parts[2]}


def _serve(settings: Any) -> int:
    import os

    from pydantic import ValidationError

    from .app import CCApp
    from .config import DEV_KEY_SHA256

    keys_dir = os.environ.get("SEQMESH_API_KEYS_DIR")
    if keys_dir:
        try:
            settings.clients = _clients_from_dir(keys_dir)
        except ValidationError as exc:
            raise SystemExit(f"seqmesh cc: SEQMESH_API_KEYS_DIR={keys_dir}: {exc}") from None
        if not settings.clients:
            raise SystemExit(f"seqmesh cc: SEQMESH_API_KEYS_DIR={keys_dir} holds no API keys")
    elif settings.require_api_keys:
        raise SystemExit("seqmesh cc: require_api_keys is set but no client API keys were given "
                         "(SEQMESH_API_KEYS_DIR unset): name a Secret of client id -> key in the Region's "
                         "spec.apiKeysSecret (Helm value region.apiKeysSecret); the development key is not accepted")
    if settings.require_api_keys and any(c.key_sha256.lower() == DEV_KEY_SHA256 for c in settings.clients):
        raise SystemExit("seqmesh cc: the well-known development key 'seqmesh-dev-key' is among the API keys; "
                         "require_api_keys refuses it: give each client a key of its own")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signals() -> None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)

        on_signals()  # a SIGTERM while the ledger opens or the edges connect stops the CC too
        app = CCApp(settings)
        port = await app.start()
        on_signals()  # again: uvicorn swaps in its own handlers while it starts
        host = settings.listen_http.rpartition(":")[0]
        peer = f", peer port {app.peer_port}" if app.peer_port else ""
        scheme = "https" if settings.api_tls else "http"
        print(f"cc {settings.region} ready: {scheme}://{host}:{port} ({len(settings.edges)} edges{peer})", flush=True)
        await stop.wait()
        await app.stop()

    from seqmesh.common.profiling import maybe_profiled

    with maybe_profiled():
        from seqmesh.common import eventloop

        eventloop.run(main())
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser("cc", help="run a region's Central Coordinator")
    p.add_argument("--region", default="local")
    p.add_argument("--listen", default="127.0.0.1:8000", help="REST address (port 0: any free port)")
    p.add_argument("--edge", action="append", default=[], metavar="VENUE=HOST:PORT", help="an edge (repeatable)")
    p.add_argument("--db", default=".cache/cc/ledger.sqlite", help="the SQLite ledger file (the embedded default)")
    p.add_argument("--ledger", metavar="URL", help="the ledger's URL instead: sqlite:///PATH or postgresql://... "
                   "($SEQMESH_LEDGER_URL wins over both)")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--dev-pki", metavar="DIR")
    p.add_argument("--https", action="store_true", help="serve the REST API over HTTPS with the CC's certificate")
    p.add_argument("--https-cert", metavar="FILE", help="serve the REST API over HTTPS with this certificate")
    p.add_argument("--https-key", metavar="FILE", help="the key of --https-cert")
    p.add_argument("--config", metavar="FILE", help="settings as JSON (what the operator mounts); other flags ignored")
    p.add_argument("--stale-after", type=float, default=3.0, help="seconds of silence before a venue is stale")
    p.add_argument("--listen-peer", metavar="HOST:PORT", help="accept other regions' CCs here (the peer mesh)")
    p.add_argument("--peer", action="append", default=[], metavar="REGION@HOST:PORT@CA_FILE",
                   help="another region's CC and its CA bundle (repeatable)")
    p.add_argument("--peer-probe", type=float, default=5.0, help="seconds between RTT probes to each peer")
    p.add_argument("--durability", choices=["power-loss", "process-crash"], default="power-loss",
                   help="what the ledger's commits survive: power loss (fsync each) or a crash of the process")
    p.add_argument("--final-orders-in-memory", type=int, default=10_000, metavar="N",
                   help="final orders kept in memory (older ones are read from the ledger)")
    p.add_argument("--watch-algos", metavar="NAMESPACE",
                   help="deploy the Algo ConfigMaps of this Kubernetes namespace (in-cluster or $KUBECONFIG)")
    p.add_argument("--client", action="append", default=[], metavar="ID:ROLE:SHA256",
                   help="a client (role trader or admin) by the SHA-256 of its key (repeatable; replaces the "
                   "development client dev, key seqmesh-dev-key)")
    p.add_argument("--requests-per-s", type=float, help="API requests per second per client (429 beyond)")
    risk = p.add_argument_group("risk limits")
    risk.add_argument("--max-position", action="append", default=[], metavar="SYMBOL=QTY")
    risk.add_argument("--max-order-notional", metavar="QUOTE")
    risk.add_argument("--daily-loss-limit", metavar="QUOTE")
    risk.add_argument("--max-orders-per-s", type=float)
    risk.add_argument("--order-burst", type=float)
    p.set_defaults(handler=_run)
