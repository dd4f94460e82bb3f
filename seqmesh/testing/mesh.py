"""Start simulated venues and edges as real processes (for tests, benchmarks and demos)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import zip_longest
from pathlib import Path

from seqmesh.common.certs_cli import dev_pki
from seqmesh.runtime.launcher.ready import CC_READY, EDGE_READY, SIM_READY, free_port

from .processes import Proc, seqmesh


def spawn_sim(tmp: Path, venue: str = "binance", seed: int = 7, *extra: str) -> Proc:
    """A simulator process, started: `sim_url` waits for it."""
    return seqmesh("sim", "--venue", venue, "--seed", str(seed), *extra, ready=SIM_READY,
                   log_path=tmp / f"sim-{venue}.log", timeout=START_S, wait=False)


def sim_url(proc: Proc) -> str:
    return f"http://127.0.0.1:{proc.wait_ready().group(2)}"


def start_sim(tmp: Path, venue: str = "binance", seed: int = 7, *extra: str) -> tuple[Proc, str]:
    """A simulator process, ready; returns it and its base URL."""
    proc = spawn_sim(tmp, venue, seed, *extra)
    return proc, sim_url(proc)


#: An edge imports ccxt, web3 and wasmtime before it loads its venue's markets: on a loaded
#: machine (seen: load 15 on 2 cores) that alone took 26 s, and a CC 30 s to open its ledger.
START_S = 90.0


def spawn_edge(tmp: Path, sim_url: str, venue: str = "binance", *extra: str,
               symbols: str = "BTC/USDT,ETH/USDT") -> Proc:
    """An edge process against `sim_url`, with its dev PKI and state under `tmp`, started:
    `edge_address` waits for it."""
    return seqmesh("edge", "--venue", venue, "--sim-url", sim_url, "--dev-pki", str(tmp / "pki"),
                   "--state-dir", str(tmp / "state"), "--symbols", symbols, *extra,
                   ready=EDGE_READY, log_path=tmp / f"edge-{venue}.log", timeout=START_S, wait=False)


def edge_address(proc: Proc) -> str:
    return f"127.0.0.1:{proc.wait_ready().group(2)}"


def start_edge(tmp: Path, sim_url: str, venue: str = "binance", *extra: str,
               symbols: str = "BTC/USDT,ETH/USDT") -> tuple[Proc, str]:
    """An edge process, ready; returns it and its gRPC address."""
    proc = spawn_edge(tmp, sim_url, venue, *extra, symbols=symbols)
    return proc, edge_address(proc)


def cc_tls_paths(tmp: Path, region: str = "local") -> tuple[Path, Path, Path]:
    """(ca, cert, key) of a CC client certificate from the dev PKI the edges under `tmp` use: the
    CC's own files when it has them (issuing anew would rewrite them under a running CC, which
    reloads them and dials its edges again)."""
    paths = dev_pki(tmp / "pki", region, [("cc", "main")], reuse_leaves=True)
    cert, key = paths[f"{region}-cc-main"]
    return paths["ca"][0], cert, key


def spawn_cc(tmp: Path, edges: dict[str, str], *extra: str, region: str = "local", name: str = "cc") -> Proc:
    """A CC process for `edges` (venue -> gRPC address), started: `cc_api` waits for it."""
    args = ["cc", "--region", region, "--listen", "127.0.0.1:0", "--dev-pki", str(tmp / "pki"),
            "--db", str(tmp / f"{name}.sqlite"), *extra]
    for venue, address in edges.items():
        args += ["--edge", f"{venue}={address}"]
    return seqmesh(*args, ready=CC_READY, log_path=tmp / f"{name}.log", timeout=START_S, wait=False)


def cc_api(proc: Proc) -> str:
    return proc.wait_ready().group(2)


def start_cc(tmp: Path, edges: dict[str, str], *extra: str, region: str = "local",
             name: str = "cc") -> tuple[Proc, str]:
    """A CC process, ready; returns it and its API URL."""
    proc = spawn_cc(tmp, edges, *extra, region=region, name=name)
    return proc, cc_api(proc)


#: venue -> (price offset bps, maker fee, taker fee): close enough that large orders split.
#: The venues share one random walk (same seed and no offset), so their books differ by what
#: trades there and by fees: the NBBO is never crossed and routing decisions stay checkable.
TEST_VENUES: dict[str, tuple[str, str, str]] = {
    "binance": ("0", "0.0008", "0.001"),
    "kraken": ("0", "0.0006", "0.0009"),
    "okx": ("0", "0.0010", "0.0011"),
}


class Region:
    """Simulators, their edges and a CC, all real processes, under one folder. Each kind starts
    all at once (a process mostly waits for its imports), so a region is up in about the time
    of its slowest simulator, edge and CC rather than of all of them in turn."""

    def __init__(self, tmp: Path, venues: dict[str, tuple[str, str, str]] | None = None, cc_args: tuple[str, ...] = (),
                 sim_args: tuple[str, ...] = (), region: str = "local", start: bool = True,
                 edge_args: tuple[str, ...] = (), launch: bool = True) -> None:
        """`launch` false leaves the starting to the caller (`launch()`'s stages; a Mesh)."""
        self.tmp = tmp
        self.region = region
        self.venues = venues or TEST_VENUES
        self.sims: dict[str, tuple[Proc, str]] = {}
        self.edges: dict[str, tuple[Proc, str]] = {}
        self.cc_args = cc_args
        self.sim_args = sim_args
        self.edge_args = edge_args
        # The CA before any edge starts: edges started together would each create one otherwise.
        self.ca = dev_pki(tmp / "pki", region, [("cc", "main")])["ca"][0]
        if launch:
            for _ in self.launch(start):
                pass

    def launch(self, start: bool = True) -> Iterator[None]:
        """Start the region in stages (simulators, edges, CC): each stage's processes are started
        together, and each yield is where they may still be starting, so that a Mesh advances all
        its regions' stages together. Whatever started is stopped if a stage fails."""
        try:
            pending = {v: spawn_sim(self.tmp, v, 20, "--price-offset-bps", offset, "--maker-fee", maker,
                                    "--taker-fee", taker, *self.sim_args)
                       for v, (offset, maker, taker) in self.venues.items()}
            self.sims = {v: (p, "") for v, p in pending.items()}
            yield
            self.sims = {v: (p, sim_url(p)) for v, p in pending.items()}
            pending = {v: self._spawn_edge(v) for v in self.venues}
            self.edges = {v: (p, "") for v, p in pending.items()}
            yield
            self.edges = {v: (p, edge_address(p)) for v, p in pending.items()}
            if start:
                self.cc = self._spawn_cc()
                yield
                self.api = cc_api(self.cc)
        except BaseException:
            self.stop()  # what did start must not outlive a region that could not
            raise

    def _spawn_edge(self, venue: str, *extra: str) -> Proc:
        return spawn_edge(self.tmp / venue, self.sims[venue][1], venue, "--dev-pki", str(self.tmp / "pki"),
                          "--region", self.region, *self.edge_args, *extra)

    def restart_edge(self, venue: str) -> None:
        """kill -9 the venue's edge and start it again on the same port, with the same state."""
        self.edges[venue][0].kill()
        self.start_edge(venue)

    def start_edge(self, venue: str) -> None:
        """The venue's edge (killed) started again on its port, with its state."""
        proc, addr = self.edges[venue]
        assert not proc.alive(), f"{venue}'s edge is running"
        proc = self._spawn_edge(venue, "--listen", addr)
        self.edges[venue] = (proc, addr)
        edge_address(proc)

    def _spawn_cc(self, *extra: str) -> Proc:
        return spawn_cc(self.tmp, {v: a for v, (_, a) in self.edges.items()}, *self.cc_args, *extra,
                        region=self.region)

    def restart_cc(self, *extra: str) -> None:
        self.cc = self._spawn_cc(*extra)
        self.api = cc_api(self.cc)

    def stop(self) -> None:
        procs = [*(p for p, _ in self.edges.values()), *(p for p, _ in self.sims.values())]
        for proc in [self.cc, *procs] if hasattr(self, "cc") else procs:
            proc.stop()


class Mesh:
    """Several regions (each its own CA), their CCs joined in the peer mesh; every region's
    simulators, then edges, then CCs start together."""

    def __init__(self, tmp: Path, regions: dict[str, dict[str, tuple[str, str, str]]], probe_s: float = 1.0,
                 cc_args: tuple[str, ...] = (), route: Callable[[str, str, str], str] | None = None,
                 sim_args: tuple[str, ...] = (), before_cc: Callable[[Region], None] | None = None) -> None:
        self.regions = {r: Region(tmp / r, venues, region=r, start=False, cc_args=cc_args, sim_args=sim_args,
                                  launch=False) for r, venues in regions.items()}
        try:
            for _ in zip_longest(*(reg.launch(start=False) for reg in self.regions.values())):
                pass
            for reg in self.regions.values():
                if before_cc is not None:
                    before_cc(reg)  # e.g. more edges of its own (a DEX chain's) in reg.edges
            self.peer_ports = {r: free_port() for r in regions}
            self.probe_s = probe_s
            # (from region, to region, direct endpoint) -> the endpoint to dial (e.g. through a proxy)
            self.routes = {(a, b): (route or (lambda _a, _b, ep: ep))(a, b, f"127.0.0.1:{self.peer_ports[b]}")
                           for a in regions for b in regions if a != b}
            for r, reg in self.regions.items():
                reg.cc = reg._spawn_cc(*self.peer_args(r))
            for reg in self.regions.values():
                reg.api = cc_api(reg.cc)
        except BaseException:
            self.stop()
            raise

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
