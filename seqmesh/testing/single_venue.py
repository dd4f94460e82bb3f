"""One simulated venue speaking a dialect, and its edge, as real processes: for tests of what an
edge does with a venue, without a CC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles

from .frozen import FROZEN_SIM
from .mesh import cc_tls_paths, start_edge, start_sim
from .processes import Proc

#: the account the edge trades on (the simulator's demo account; OKX's needs its passphrase)
DEMO_ACCOUNT = ("seqmesh-demo", "seqmesh-demo-secret", "seqmesh-demo-passphrase")
#: a second funded account on the venue (the edge trades on the demo one): the other side of a trade
OTHER_ACCOUNT = ("venue-taker", "venue-taker-secret", "venue-taker-pass")


class SingleVenue:
    """A frozen simulator speaking `dialect` (extra `sim_args` after the frozen ones) and its edge."""

    def __init__(self, tmp: Path, dialect: str, *sim_args: str) -> None:
        self.tmp, self.dialect = tmp, dialect
        key = OTHER_ACCOUNT if dialect == "okx" else OTHER_ACCOUNT[:2]
        self.sim, self.sim_url = start_sim(tmp, dialect, 11, "--dialect", dialect, "--api-key", ":".join(key),
                                           *FROZEN_SIM, *sim_args)
        self.edge: Proc | None = None
        try:
            self.start_edge()
        except BaseException:
            self.sim.stop()
            raise

    def start_edge(self, *extra: str) -> None:
        self.edge, self.addr = start_edge(self.tmp, self.sim_url, self.dialect, "--sim-dialect", self.dialect, *extra)

    def restart_edge(self) -> None:
        """kill -9 the edge and start it again on the same port, with the same journal."""
        assert self.edge is not None
        self.edge.kill()
        self.start_edge("--listen", self.addr)

    def exchange(self, account: tuple[str, str, str] = DEMO_ACCOUNT) -> Any:
        """A ccxt client of the venue on `account` (close it after use)."""
        key, secret, passphrase = account
        return make_exchange(self.dialect, sim_url=self.sim_url, dialect=self.dialect, api_key=key, secret=secret,
                             password=passphrase if self.dialect == "okx" else None)

    def client(self) -> EdgeClient:
        return EdgeClient(self.addr, TlsFiles(*cc_tls_paths(self.tmp)))

    def stop(self) -> None:
        for proc in (self.edge, self.sim):
            if proc is not None:
                proc.stop()
