"""Property tests of the simulator's matching engine: no crossed book at rest, conservation of
every asset across accounts, quantities conserved between orders and the book, and rejected
requests leave the engine unchanged."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqmesh.runtime.venues.sim.instruments import CATALOGUE
from seqmesh.runtime.venues.sim.matching import Fees, MatchingEngine
from seqmesh.runtime.venues.sim.orders import OrderType, Rejected, Side, Status, TimeInForce

BTC = CATALOGUE["BTC/USDT"]
ACCOUNTS = ("a", "b", "c")


def engine() -> MatchingEngine:
    e = MatchingEngine([BTC], Fees(Decimal("0.0002"), Decimal("0.0007")), clock_ms=lambda: 1, first_id=1)
    for acc in ACCOUNTS:
        e.accounts.open(acc, {"USDT": Decimal(200_000), "BTC": Decimal(3)})
    return e


op = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(ACCOUNTS), st.sampled_from(Side),
              st.integers(99_900, 100_100), st.integers(1, 50_000), st.sampled_from(TimeInForce)),
    st.tuples(st.just("market"), st.sampled_from(ACCOUNTS), st.sampled_from(Side), st.integers(1, 80_000)),
    st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(1, 60)),
    st.tuples(st.just("bad"), st.sampled_from(ACCOUNTS), st.sampled_from(["tick", "lot", "funds", "notional"])),
)


def apply(e: MatchingEngine, o: tuple[object, ...]) -> None:
    kind = o[0]
    try:
        if kind == "limit":
            _, acc, side, price, lots, tif = o
            e.submit(acc, "BTC/USDT", side, OrderType.LIMIT, BTC.lot * lots, BTC.tick * price * 10, tif)  # type: ignore[arg-type,operator]
        elif kind == "market":
            _, acc, side, lots = o
            e.submit(acc, "BTC/USDT", side, OrderType.MARKET, BTC.lot * lots)  # type: ignore[arg-type,operator]
        elif kind == "cancel":
            _, acc, oid = o
            e.cancel(acc, "BTC/USDT", oid)  # type: ignore[arg-type]
    except Rejected:
        pass


def bad(e: MatchingEngine, acc: str, what: str) -> None:
    price, qty = Decimal("100000.00"), Decimal("0.01")
    if what == "tick":
        price = Decimal("100000.001")
    elif what == "lot":
        qty = Decimal("0.000001")
    elif what == "funds":
        qty = Decimal("50")
    elif what == "notional":
        qty, price = Decimal("0.00001"), Decimal("1.00")
    e.submit(acc, "BTC/USDT", Side.BUY, OrderType.LIMIT, qty, price)


def check_invariants(e: MatchingEngine, totals: dict[str, Decimal]) -> None:
    book = e.books["BTC/USDT"]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is None or ask is None or bid < ask, f"crossed book at rest: {bid} >= {ask}"
    for asset, total in totals.items():
        assert e.accounts.total(asset) == total, f"{asset} not conserved"
    for side in (book.bids, book.asks):
        for price, queue in side.queues.items():
            assert queue, "empty price level left in the book"
            assert side.totals[price] == sum(o.remaining for o in queue)
            assert all(o.status.is_open and o.price == price for o in queue)
    for acc in ACCOUNTS:
        for asset in ("USDT", "BTC"):
            assert e.accounts.free(acc, asset) >= 0 and e.accounts.locked(acc, asset) >= 0
        open_orders = e.open_orders(acc)
        locked_usdt = sum((o.locked for o in open_orders if o.side is Side.BUY), Decimal(0))
        locked_btc = sum((o.locked for o in open_orders if o.side is Side.SELL), Decimal(0))
        assert e.accounts.locked(acc, "USDT") == locked_usdt
        assert e.accounts.locked(acc, "BTC") == locked_btc
    for order in e.orders.values():
        assert order.filled == sum((f.qty for f in order.fills), Decimal(0)) <= order.qty
        if order.status is Status.FILLED:
            assert order.filled == order.qty


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=60))
def test_invariants_hold_after_every_operation(ops: list[tuple[object, ...]]) -> None:
    e = engine()
    totals = {a: e.accounts.total(a) for a in ("USDT", "BTC")}
    for o in ops:
        if o[0] == "bad":
            snapshot = copy.deepcopy((e.orders, e.accounts._free, e.accounts._locked, e.books["BTC/USDT"].update_id))
            with pytest.raises(Rejected):
                bad(e, o[1], o[2])  # type: ignore[arg-type]
            assert snapshot == (e.orders, e.accounts._free, e.accounts._locked, e.books["BTC/USDT"].update_id)
        else:
            apply(e, o)
        check_invariants(e, totals)


def test_order_and_trade_ids_never_repeat_across_restarts() -> None:
    """An edge's journal outlives a restarted simulator and keys fills by trade id."""
    def trade() -> tuple[int, int]:
        e = MatchingEngine([BTC], Fees())  # ids from the wall clock
        for acc in ACCOUNTS:
            e.accounts.open(acc, {"USDT": Decimal(200_000), "BTC": Decimal(3)})
        e.submit("a", "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.5"), Decimal("100000.00"))
        taker = e.submit("b", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.5"))
        return taker.order_id, taker.fills[0].trade_id

    before, after = trade(), trade()  # the second engine is the simulator restarted
    assert after[0] > before[0] and after[1] > before[1]


def test_price_time_priority_and_partial_fills() -> None:
    e = engine()
    p = Decimal("100000.00")
    first = e.submit("a", "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.5"), p)
    second = e.submit("b", "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.5"), p)
    better = e.submit("b", "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.1"), p - 1)
    taker = e.submit("c", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.3"), p)
    assert [(f.price, f.qty) for f in taker.fills] == [(p - 1, Decimal("0.1")), (p, Decimal("0.2"))]
    assert better.status is Status.FILLED and first.status is Status.PARTIALLY_FILLED
    assert first.filled == Decimal("0.2") and second.filled == 0, "time priority within a level"
    fee = taker.fills[0]
    assert fee.fee == Decimal("0.1") * Decimal("0.0007") and fee.fee_asset == "BTC" and not fee.is_maker
    assert first.fills[0].is_maker and first.fills[0].fee == Decimal("0.2") * p * Decimal("0.0002")


def test_buy_price_improvement_releases_excess_lock() -> None:
    e = engine()
    e.submit("a", "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.1"), Decimal("99000.00"))
    order = e.submit("b", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.3"), Decimal("100000.00"))
    assert order.filled == Decimal("0.1")
    assert e.accounts.locked("b", "USDT") == Decimal("0.2") * Decimal("100000.00")
    assert e.accounts.free("b", "USDT") == Decimal(200_000) - Decimal("9900") - Decimal("20000")


def test_fok_and_duplicate_client_id() -> None:
    e = engine()
    e.submit("a", "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.1"), Decimal("100000.00"))
    fok = e.submit("b", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.2"), Decimal("100000.00"), TimeInForce.FOK)
    assert fok.status is Status.EXPIRED and fok.filled == 0
    e.submit("c", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal("90000.00"), client_order_id="x1")
    with pytest.raises(Rejected, match="Duplicate"):
        e.submit("c", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal("90000.00"), client_order_id="x1")


def test_the_synthetic_flows_finished_orders_are_not_kept_a_clients_are() -> None:
    """A venue's memory follows its open book and its clients' history, not the synthetic flow's
    (nobody can query the flow's accounts): after 2,000 flow steps it holds the flow's open
    quotes only, while a client's every order and fill stay queryable."""
    from seqmesh.runtime.venues.sim.config import VenueSettings
    from seqmesh.runtime.venues.sim.flow import SyntheticFlow
    from seqmesh.runtime.venues.sim.instruments import resolve

    settings = VenueSettings(symbols=["BTC/USDT"], seed=7)
    e = MatchingEngine(resolve(settings.symbols), Fees(settings.maker_fee, settings.taker_fee), clock_ms=lambda: 1)
    e.accounts.open("client", {"USDT": Decimal(10_000_000), "BTC": Decimal(100)})
    flow = SyntheticFlow(e, settings)
    mine = []
    for step in range(2_000):
        flow.step()
        if step % 100 == 0:  # the client trades against the flow's quotes, both ways
            side = Side.BUY if step % 200 == 0 else Side.SELL
            mine.append(e.submit("client", "BTC/USDT", side, OrderType.MARKET, Decimal("0.01"),
                                 client_order_id=f"c{step}"))
    flow_orders = [o for o in e.orders.values() if o.account in e.transient_accounts]
    assert flow_orders and all(o.status.is_open for o in flow_orders)
    book = e.books["BTC/USDT"]
    resting = sum(len(q) for side in (book.bids, book.asks) for q in side.queues.values())
    assert len(flow_orders) == resting  # exactly the quotes on the book
    assert all(e.orders[o.order_id] is o for o in mine)  # the client's history is all there
    assert all(e.find_order("client", "BTC/USDT", client_order_id=f"c{100 * i}") is o for i, o in enumerate(mine))
    assert {f.order_id for f in e.fills("client", "BTC/USDT")} == {o.order_id for o in mine if o.filled}
    assert all(not e.fills(acc, "BTC/USDT") for acc in e.transient_accounts)
