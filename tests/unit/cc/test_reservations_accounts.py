"""Reservations per venue account: a child not yet acknowledged holds the account its client's
orders trade on at that venue (the client's own, through its credential, or the shared one),
never another account; a granted remote hold likewise."""

from __future__ import annotations

from decimal import Decimal

from seqmesh.runtime.cc.domain import Child, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.routing.reservations import Reservations

#: alice has her own account at binance; bob trades on the shared one
ACCOUNTS = {("alice", "binance"): "cred-alice"}


def _order(client: str, qty: str, venue: str = "binance", sent: bool = False) -> tuple[Parent, Child]:
    parent = Parent(f"{client}-1", client, "", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(qty), Decimal("100"),
                    ParentState.NEW, 0, 0)
    child = Child(f"{client}-1-0", parent.order_id, venue, Decimal(qty), Decimal("100"), OrderType.LIMIT, sent=sent)
    parent.children.append(child)
    return parent, child


def _reservations(live: list[tuple[Parent, Child]]) -> Reservations:
    return Reservations(lambda: live, lambda _s: Decimal("100"), lambda c, v: ACCOUNTS.get((c, v), ""))


def test_unsent_children_hold_their_own_account_only() -> None:
    live = [_order("alice", "2"), _order("bob", "3"), _order("carol", "5", sent=True), _order("alice", "7", "okx")]
    r = _reservations(live)
    assert r.reserved("binance", "USDT", "cred-alice") == Decimal("200")  # alice's only
    assert r.reserved("binance", "USDT") == Decimal("300")  # the shared account: bob's (carol's was acknowledged)
    assert r.reserved("okx", "USDT") == Decimal("700")  # alice has no account of her own at okx
    assert r.reserved("binance", "BTC", "cred-alice") == 0  # a buy holds the quote


def test_remote_holds_are_per_account() -> None:
    r = _reservations([])
    r.hold_remote("na-1", "binance", "USDT", Decimal("50"), "cred-alice")
    r.hold_remote("na-2", "binance", "USDT", Decimal("20"))
    assert r.held_for_remote("binance", "USDT", "cred-alice") == Decimal("50")
    assert r.held_for_remote("binance", "USDT") == Decimal("20")
    r.release_remote("na-1")
    assert r.held_for_remote("binance", "USDT", "cred-alice") == 0
