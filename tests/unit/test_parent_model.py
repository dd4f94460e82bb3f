"""What a parent order may route again: never the part a FILLED child's fills are still bringing."""

from __future__ import annotations

from decimal import Decimal

from seqmesh.runtime.cc.domain import Child, Fill, OrderType, Parent, ParentState, Side


def book(p: Parent, child: Child, qty: str) -> None:
    """A fill booked: on the child and in the parent's fills, as the execution engine does."""
    child.filled += Decimal(qty)
    p.fills.append(Fill(f"f{len(p.fills)}", child.child_id, p.order_id, child.venue, p.symbol, p.side,
                        Decimal(65000), Decimal(qty), Decimal(0), "USDT", False, 0, 0))


def parent(*children: tuple[str, str, str]) -> Parent:
    p = Parent("p1", "dev", "", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal(6), None, ParentState.WORKING, 0, 0)
    for i, (qty, state, filled) in enumerate(children):
        child = Child(f"p1-{i}", "p1", "venue", Decimal(qty), None, OrderType.MARKET, state)
        p.children.append(child)
        if Decimal(filled):
            book(p, child, filled)
    return p


def test_a_filled_child_whose_fills_are_on_their_way_is_not_open_quantity() -> None:
    # The edge acknowledged kraken's child FILLED; its fill events have not arrived (a partition).
    p = parent(("3.3", "FILLED", "3.3"), ("2.7", "FILLED", "0"))
    assert p.open_qty == 0 and not p.children[1].settled and p.children[1].done
    book(p, p.children[1], "2.7")  # the fills arrive
    assert p.children[1].settled and p.open_qty == 0


def test_what_a_venue_will_not_fill_is_open_again() -> None:
    p = parent(("3.3", "FILLED", "3.3"), ("2.7", "EXPIRED", "1.2"))  # an IOC remainder the venue dropped
    assert p.children[1].settled and p.open_qty == Decimal("1.5")
