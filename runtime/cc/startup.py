"""What the CC reads from its ledger before it serves: the live orders, the fills positions
are derived from, the kill switch, the other regions' children it hosts, and the stream
cursors (kept in memory from then on: the edge links ask for them synchronously)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .domain import PARENT_TERMINAL, Fill, Parent
from .store import LedgerStore

RISK_DAY = "risk_day"


@dataclass
class Recovered:
    live: dict[str, Parent]
    fills: list[tuple[str, Fill]]  # (client, fill): client orders' and WASM algos' fills
    kill_switch: bool
    remote_children: dict[str, tuple[str, str]]
    cursors: dict[str, int]  # venue -> last edge event booked
    risk_day: dict[str, Any] | None  # the trading day's start and each client's PnL then
    venues_routed: set[str] = field(default_factory=set)  # every venue a child was sent to


async def recover(store: LedgerStore) -> Recovered:
    live = await store.live_parents(PARENT_TERMINAL)
    fills = [cf async for cf in store.client_fills()] + await store.algo_fills()
    venues = await store.child_venues()
    cursors = {v: await store.cursor(v) for v in venues}
    day = await store.flag(RISK_DAY)
    return Recovered(live, fills, await store.flag("kill_switch") == "on", await store.remote_children(), cursors,
                     json.loads(day) if day else None, venues)


class Cursors:
    """Each venue's stream cursor: read from memory, written through to the store in the unit
    that books what it read."""

    def __init__(self, store: LedgerStore, cursors: dict[str, int], venues_routed: set[str]) -> None:
        self._store = store
        self._cursors = cursors
        #: venues our children went to (a peer replays other regions' venues from these cursors)
        self.venues_routed = venues_routed

    def get(self, venue: str) -> int:
        return self._cursors.get(venue, 0)

    def set(self, venue: str, seq: int) -> None:
        if seq > self._cursors.get(venue, 0):  # never backwards: a replay may deliver older events
            self._cursors[venue] = seq
        self._store.set_cursor(venue, seq)
