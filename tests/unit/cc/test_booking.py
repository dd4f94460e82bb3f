"""Booking a child's events exactly once, whichever way and in whatever order they come.

A home region replays what its origin missed while relaying new events live, so the origin can
see a child's later event before an earlier one. The later one's state wins; the earlier one's
fill must still be booked, once. Real ledger (SQLite), real positions, the controllable clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.cc.bus import Bus, FillBooked
from seqmesh.runtime.cc.clock import ManualClock
from seqmesh.runtime.cc.domain import Child, ChildState, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.orders.booking import Booking
from seqmesh.runtime.cc.orders.cache import OrderCache
from seqmesh.runtime.cc.positions import Positions
from seqmesh.runtime.cc.startup import Cursors
from seqmesh.runtime.cc.store import LedgerStore, open_store
from seqmesh.runtime.proto import edge_pb2 as pb

VENUE = "binance"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    s = await open_store(f"sqlite:///{tmp_path / 'cc.sqlite'}")
    yield s
    await s.close()


def event(seq: int, state: int, filled: str, fill: tuple[str, str, str] | None = None) -> pb.OrderEvent:
    ev = pb.OrderEvent(client_order_id="o1-0", venue_order_id="77", symbol="BTC/USDT", side=pb.BUY, state=state,
                       filled_qty=filled, seq=seq)
    if fill is not None:
        fill_id, qty, price = fill
        ev.fill.CopyFrom(pb.Fill(fill_id=fill_id, qty=qty, price=price, fee="0", fee_asset="BTC"))
    return ev


async def test_an_earlier_fill_arriving_after_a_later_event_is_booked_once(store: LedgerStore) -> None:
    clock = ManualClock()
    parent = Parent("o1", "alice", "", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("2"), None,
                    ParentState.NEW, clock.now_ns(), clock.now_ns())
    child = Child("o1-0", "o1", VENUE, Decimal("2"), None, OrderType.MARKET, sent=True)
    parent.children.append(child)
    with store.atomic():
        store.save_parent(parent, "accepted")
        store.save_child(child, "routed")
    await store.durable()
    cache = OrderCache(store, {}, 100)
    cache.add(parent)
    cache.go_live(parent)
    positions, bus = Positions(), Bus()
    booked: list[str] = []
    bus.subscribe(FillBooked, lambda ev: booked.append(ev.fill.fill_id))
    booking = Booking(store, Cursors(store, {}, set()), cache, positions, bus, clock, 0, lambda v, c: None)

    first = event(101, pb.PARTIALLY_FILLED, "1", (f"{VENUE}:BTC/USDT:1", "1", "100"))
    second = event(102, pb.FILLED, "2", (f"{VENUE}:BTC/USDT:2", "1", "101"))
    await booking.on_edge_events(VENUE, [second])  # the live relay overtook the replay
    assert child.state == ChildState.FILLED and child.filled == Decimal("1")
    await booking.on_edge_events(VENUE, [first])  # the replay's earlier event: its fill counts
    assert child.state == ChildState.FILLED and child.last_seq == 102  # its state is past
    assert child.filled == Decimal("2") and parent.filled == Decimal("2")
    assert parent.state is ParentState.FILLED
    assert positions.get("alice", "BTC/USDT").qty == Decimal("2")
    for again in (first, second, event(100, pb.ACCEPTED, "0")):  # every later repeat: nothing
        await booking.on_edge_events(VENUE, [again])
    assert booked == [f"{VENUE}:BTC/USDT:2", f"{VENUE}:BTC/USDT:1"]
    assert booking.fills_booked == 2 and booking.duplicate_fills == 0
    assert sorted(f.fill_id for f in (await store.parent("o1") or parent).fills) == sorted(booked)
