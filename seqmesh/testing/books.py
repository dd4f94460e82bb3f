"""Waiting, bounded, until a CC sees live books: after a start or a restart, routing needs them."""

from __future__ import annotations

from seqmesh.client.api import CCClient

from .processes import wait_until


def live_venues(c: CCClient, symbol: str = "BTC/USDT") -> set[str]:
    """The venues whose book of `symbol` is live (not stale) at the CC."""
    return {b["venue"] for b in c.bbo(symbol) if not b["stale"]}


def wait_live(c: CCClient, venues: int, symbol: str = "BTC/USDT", timeout: float = 60.0) -> None:
    """Until every edge the CC knows is connected and `venues` books of `symbol` are live there: a
    book listed but stale (its edge just restarted) cannot be routed to yet."""
    wait_until(lambda: all(e["connected"] for e in c.edges()) and len(live_venues(c, symbol)) == venues,
               timeout, what=f"{venues} live {symbol} books")
