"""Start the Solana RFQ venue and an edge trading on it, as real processes (tests and demos)."""

from __future__ import annotations

from pathlib import Path

from seqmesh.runtime.launcher.ready import EDGE_READY
from seqmesh.runtime.venues.solana.cli import READY

from .processes import Proc, seqmesh

#: fast slots and short lifetimes: a blockhash lives 40 blocks (2 s), a quote 20 (1 s), finality 8
FAST_CHAIN = ("--slot-ms", "50", "--max-age", "40", "--quote-ttl", "20", "--finalized-depth", "8",
              "--volatility-bps", "0")


def start_solana(tmp: Path, *extra: str, seed: int = 5) -> tuple[Proc, str, Path]:
    """The venue (fast chain, still maker) funding one taker; returns it, its URL and the taker's key file."""
    keypair = tmp / "taker.json"
    proc = seqmesh("solana", "--seed", str(seed), "--taker-keypair", str(keypair), *FAST_CHAIN, *extra,
                   ready=READY, log_path=tmp / "solana.log")
    assert proc.match is not None
    return proc, f"http://127.0.0.1:{proc.match.group(2)}", keypair


def start_solana_edge(tmp: Path, url: str, keypair: Path, *extra: str) -> tuple[Proc, str]:
    """An edge for venue `solana` with its dev PKI and state under `tmp`; returns it and its gRPC address."""
    proc = seqmesh("edge", "--venue", "solana", "--solana-rpc", url, "--solana-keypair", str(keypair),
                   "--dev-pki", str(tmp / "pki"), "--state-dir", str(tmp / "state"), "--rate-limit", "1000",
                   "--burst", "1000", "--symbols", "BTC/USDT,ETH/USDT", *extra,
                   ready=EDGE_READY, log_path=tmp / "edge-solana.log")
    assert proc.match is not None
    return proc, f"127.0.0.1:{proc.match.group(2)}"
