"""A region whose market holds still: no random walk, no takers, makers requoting once a minute,
so books change (almost) only when a test's orders take from them."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from seqmesh.client.api import CCClient

from .mesh import Region
from .processes import wait_until

FROZEN_SIM = ("--volatility-bps", "0", "--taker-probability", "0", "--flow-interval-ms", "60000")


def client_arg(client: str, key: str, role: str = "trader") -> str:
    """The CC's `--client` for a client with this key (a trader unless said otherwise)."""
    return f"{client}:{role}:{hashlib.sha256(key.encode()).hexdigest()}"


@contextlib.contextmanager
def frozen_region(tmp: Path, clients: dict[str, str], admins: dict[str, str] | None = None) -> Iterator[Region]:
    """Three venues on a frozen market, their edges and a CC with trader `clients` and `admins`
    (id -> key), live; stopped on leaving."""
    args: list[str] = ["--stale-after", "3600"]  # a book that holds still is current, not stale
    for client, key in clients.items():
        args += ["--client", client_arg(client, key)]
    for client, key in (admins or {}).items():
        args += ["--client", client_arg(client, key, "admin")]
    r = Region(tmp, sim_args=FROZEN_SIM, cc_args=tuple(args))
    try:
        with CCClient(r.api, next(iter(clients.values()))) as c:
            wait_until(lambda: all(e["connected"] for e in c.edges()) and len(c.bbo("BTC/USDT")) == 3
                       and not any(b["stale"] for b in c.bbo("BTC/USDT")), 60, what="three live venues")
        yield r
    finally:
        r.stop()
