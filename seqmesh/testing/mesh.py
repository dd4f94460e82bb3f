"""Start simulated venues and edges as real processes (for tests, benchmarks and demos)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqmesh.common.certs_cli import dev_pki
from seqmesh.runtime.launcher.ready import CC_READY, EDGE_READY, SIM_READY, free_port

from .processes import Proc, seqmesh


def start_sim(tmp: Path, venue: str = "binance", seed: int = 7, *extra: str) -> tuple[Proc, str]:
    """A simulator process; returns it and its base URL."""
    proc = seqmesh("sim", "--venue", venue, "--seed", str(seed), *extra, ready=SIM_READY,
                   log_path=tmp / f"sim-{venue}.log")
    assert proc.match is not None
    return proc, f"http://127.0.0.1:{proc.match.group(2)}"


#: An edge imports ccxt, web3 and wasmtime before it loads its venue's markets: on a loaded
#: machine (seen: load 15 on 2 cores) that alone took 26 s, close to the usual 30 s.
EDGE_START_S = 90.0


def start_edge(tmp: Path, sim_url: str, venue: str = "binance", *extra: str,
               symbols: str = "BTC/USDT,ETH/USDT") -> tuple[Proc, str]:
    """An edge process against `sim_url`, with its dev PKI and state under `tmp`."""
    proc = seqmesh("edge", "--venue", venue, "--sim-url", sim_url, "--dev-pki", str(tmp / "pki"),
                   "--state-dir", str(tmp / "state"), "--symbols", symbols, *extra,
                   ready=EDGE_READY, log_path=tmp / f"edge-{venue}.log", timeout=EDGE_START_S)
    assert proc.match is not None
    return proc, f"127.0.0.1:{proc.match.group(2)}"


def cc_tls_paths(tmp: Path, region: str = "local") -> tuple[Path, Path, Path]:
    """(ca, cert, key) of a CC client certificate from the dev PKI the edges under `tmp` use: the
    CC's own files when it has them (issuing anew would rewrite them under a running CC, which
    reloads them and dials its edges again)."""
    paths = dev_pki(tmp / "pki", region, [("cc", "main")], reuse_leaves=True)
    cert, key = paths[f"{region}-cc-main"]
    return paths["ca"][0], cert, key


def start_cc(tmp: Path, edges: dict[str, str], *extra: str, region: str = "local",
             name: str = "cc") -> tuple[Proc, str]:
    """A CC process for `edges` (venue -> gRPC address); returns it and its API URL."""
    args = ["cc", "--region", region, "--listen", "127.0.0.1:0", "--dev-pki", str(tmp / "pki"),
            "--db", str(tmp / f"{name}.sqlite"), *extra]
    for venue, address in edges.items():
        args += ["--edge", f"{venue}={address}"]
    proc = seqmesh(*args, ready=CC_READY, log_path=tmp / f"{name}.log")
    assert proc.match is not None
    return proc, proc.match.group(2)


#: venue -> (price offset bps, maker fee, taker fee): close enough that large orders split.
#: The venues share one random walk (same seed and no offset), so their books differ by what
#: trades there and by fees: the NBBO is never crossed and routing decisions stay checkable.
TEST_VENUES: dict[str, tuple[str, str, str]] = {
    "binance": ("0", "0.0008", "0.001"),
    "kraken": ("0", "0.0006", "0.0009"),
    "okx": ("0", "0.0010", "0.0011"),
}


class Region:
    """Simulators, their edges and a CC, all real processes, under one folder."""

    def __init__(self, tmp: Path, venues: dict[str, tuple[str, str, str]] | None = None, cc_args: tuple[str, ...] = (),
                 sim_args: tuple[str, ...] = (), region: str = "local", start: bool = True,
                 edge_args: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.region = region
        self.sims: dict[str, tuple[Proc, str]] = {}
        self.edges: dict[str, tuple[Proc, str]] = {}
        self.cc_args = cc_args
        self.edge_args = edge_args
        try:
            for venue, (offset, maker, taker) in (venues or TEST_VENUES).items():
                self.sims[venue] = start_sim(tmp, venue, 20, "--price-offset-bps", offset, "--maker-fee", maker,
                                             "--taker-fee", taker, *sim_args)
                self.edges[venue] = self._edge(venue)
            self.ca = dev_pki(tmp / "pki", region, [("cc", "main")])["ca"][0]
            if start:
                self.restart_cc()
        except BaseException:
            self.stop()  # what did start must not outlive a region that could not
            raise

    def _edge(self, venue: str, *extra: str) -> tuple[Proc, str]:
        return start_edge(self.tmp / venue, self.sims[venue][1], venue, "--dev-pki", str(self.tmp / "pki"),
                          "--region", self.region, *self.edge_args, *extra)

    def restart_edge(self, venue: str) -> None:
        """kill -9 the venue's edge and start it again on the same port, with the same state."""
        proc, addr = self.edges[venue]
        proc.kill()
        self.edges[venue] = self._edge(venue, "--listen", addr)

    def restart_cc(self, *extra: str) -> None:
        self.cc, self.api = start_cc(self.tmp, {v: a for v, (_, a) in self.edges.items()}, *self.cc_args, *extra,
                                     region=self.region)

    def stop(self) -> None:
        procs = [*(p for p, _ in self.edges.values()), *(p for p, _ in self.sims.values())]
        for proc in [self.cc, *procs] if hasattr(self, "cc") else procs:
            proc.stop()


class Mesh:
    """Several regions (each its own CA), their CCs joined in the peer mesh."""

    def __init__(self, tmp: Path, regions: dict[str, dict[str, tuple[str, str, str]]], probe_s: float = 1.0,
                 cc_args: tuple[str, ...] = (), route: Callable[[str, str, str], str] | None = None,
                 sim_args: tuple[str, ...] = (), before_cc: Callable[[Region], None] | None = None) -> None:
        self.regions = {r: Region(tmp / r, venues, region=r, start=False, cc_args=cc_args, sim_args=sim_args)
                        for r, venues in regions.items()}
        for reg in self.regions.values():
            if before_cc is not None:
                before_cc(reg)  # e.g. more edges of its own (a DEX chain's) in reg.edges
        self.peer_ports = {r: free_port() for r in regions}
        self.probe_s = probe_s
        # (from region, to region, direct endpoint) -> the endpoint to dial (e.g. through a proxy)
        self.routes = {(a, b): (route or (lambda _a, _b, ep: ep))(a, b, f"127.0.0.1:{self.peer_ports[b]}")
                       for a in regions for b in regions if a != b}
        for r in regions:
            self.start_cc(r)

    def peer_args(self, region: str) -> list[str]:
        args = ["--listen-peer", f"127.0.0.1:{self.peer_ports[region]}", "--peer-probe", str(self.probe_s)]
        for other, reg in self.regions.items():
            if other != region:
                args += ["--peer", f"{other}@{self.routes[(region, other)]}@{reg.ca}"]
        return args

    def start_cc(self, region: str) -> None:
        self.regions[region].restart_cc(*self.peer_args(region))

    def stop(self) -> None:
        for reg in self.regions.values():
            reg.stop()
