"""Start simulated venues and edges as real processes (for tests, benchmarks and demos)."""

from __future__ import annotations

from pathlib import Path

from seqmesh.common.certs_cli import dev_pki

from .processes import Proc, seqmesh

SIM_READY = r"venue (\S+) ready: http://127\.0\.0\.1:(\d+)/api/v3"
EDGE_READY = r"edge (\S+) ready: grpc 127\.0\.0\.1:(\d+)"


def start_sim(tmp: Path, venue: str = "binance", seed: int = 7, *extra: str) -> tuple[Proc, str]:
    """A simulator process; returns it and its base URL."""
    proc = seqmesh("sim", "--venue", venue, "--seed", str(seed), *extra, ready=SIM_READY,
                   log_path=tmp / f"sim-{venue}.log")
    assert proc.match is not None
    return proc, f"http://127.0.0.1:{proc.match.group(2)}"


def start_edge(tmp: Path, sim_url: str, venue: str = "binance", *extra: str,
               symbols: str = "BTC/USDT,ETH/USDT") -> tuple[Proc, str]:
    """An edge process against `sim_url`, with its dev PKI and state under `tmp`."""
    proc = seqmesh("edge", "--venue", venue, "--sim-url", sim_url, "--dev-pki", str(tmp / "pki"),
                   "--state-dir", str(tmp / "state"), "--symbols", symbols, *extra,
                   ready=EDGE_READY, log_path=tmp / f"edge-{venue}.log")
    assert proc.match is not None
    return proc, f"127.0.0.1:{proc.match.group(2)}"


def cc_tls_paths(tmp: Path, region: str = "local") -> tuple[Path, Path, Path]:
    """(ca, cert, key) of a CC client certificate from the dev PKI the edges under `tmp` use."""
    paths = dev_pki(tmp / "pki", region, [("cc", "main")])
    cert, key = paths[f"{region}-cc-main"]
    return paths["ca"][0], cert, key
