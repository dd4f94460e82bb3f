"""What is already promised at each venue but not yet visible in its balance.

A child written but not yet acknowledged by its edge holds part of the venue account (the
venue's locked balance shows it only once the edge has placed it); so does a child another
region routed here, until the next balance refresh. Routing caps each venue by its free
balance minus both.

Per venue account: a child holds the account it trades on (the client's own, through its
credential, or the edge's shared one ""), never another's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from ..domain import Child, Parent, Side

ZERO = Decimal(0)


class Reservations:
    def __init__(self, live: Callable[[], Iterable[tuple[Parent, Child]]],
                 mark: Callable[[str], Decimal | None],
                 account: Callable[[str, str], str] = lambda _c, _v: "") -> None:
        self._live = live
        self._mark = mark
        #: (client, venue) -> the venue account the client's orders there trade on ("" the shared one)
        self._account = account
        #: granted to other regions' children: child id -> (venue, account, asset, amount)
        self._remote: dict[str, tuple[str, str, str, Decimal]] = {}

    def reserved(self, venue: str, asset: str, account: str = "") -> Decimal:
        """Local children on `account` not yet acknowledged by their edge (once it has them, the
        venue's locked balance carries them)."""
        total = ZERO
        for p, c in self._live():
            if c.venue != venue or c.done or c.sent or self._account(p.client, venue) != account:
                continue
            base, quote = p.symbol.split("/")
            if p.side is Side.BUY and asset == quote:
                total += (c.qty - c.filled) * (c.price or self._mark(p.symbol) or ZERO)
            elif p.side is Side.SELL and asset == base:
                total += c.qty - c.filled
        return total

    def held_for_remote(self, venue: str, asset: str, account: str = "") -> Decimal:
        return sum((amt for v, acc, a, amt in self._remote.values() if v == venue and acc == account and a == asset),
                   ZERO)

    def hold_remote(self, child_id: str, venue: str, asset: str, amount: Decimal, account: str = "") -> None:
        self._remote[child_id] = (venue, account, asset, amount)

    def release_remote(self, child_id: str) -> None:
        self._remote.pop(child_id, None)

    def remote_held(self, child_id: str) -> bool:
        return child_id in self._remote
