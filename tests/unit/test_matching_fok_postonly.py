"""The simulator's matching of fill-or-kill and post-only orders: all or nothing, rest or nothing,
and a refused or killed order leaves books and balances as they were."""

from __future__ import annotations

from decimal import Decimal

import pytest
from seqmesh.runtime.venues.sim.instruments import CATALOGUE
from seqmesh.runtime.venues.sim.matching import Fees, MatchingEngine
from seqmesh.runtime.venues.sim.orders import Cause, OrderType, Rejected, Side, Status, TimeInForce

BTC = CATALOGUE["BTC/USDT"]
D = Decimal


@pytest.fixture
def engine() -> MatchingEngine:
    e = MatchingEngine([BTC], Fees(D("0.0002"), D("0.0007")), clock_ms=lambda: 1, first_id=1)
    for acc in ("maker", "taker"):
        e.accounts.open(acc, {"USDT": D(1_000_000), "BTC": D(10)})
    # asks: 0.5 @ 100000, 0.5 @ 100010; bids: 0.5 @ 99990
    e.submit("maker", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.5"), D(100_000))
    e.submit("maker", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.5"), D(100_010))
    e.submit("maker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.5"), D(99_990))
    return e


def snapshot(e: MatchingEngine) -> tuple[object, ...]:
    return e.depth("BTC/USDT"), e.accounts.balances("taker"), e.accounts.balances("maker")


def test_fok_fills_entirely_across_levels(engine: MatchingEngine) -> None:
    o = engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.8"), D(100_010), TimeInForce.FOK)
    assert o.status is Status.FILLED and o.filled == D("0.8")
    assert [f.price for f in o.fills] == [D(100_000), D(100_010)]
    assert engine.depth("BTC/USDT")[2] == [(D(100_010), D("0.2"))]


def test_fok_that_cannot_fill_entirely_trades_nothing(engine: MatchingEngine) -> None:
    before = snapshot(engine)
    # 1.0 is there, but only 0.5 within the limit
    o = engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("1.0"), D(100_000), TimeInForce.FOK)
    assert o.status is Status.EXPIRED and o.filled == 0 and not o.fills
    assert snapshot(engine) == before
    assert engine.open_orders("taker") == []


def test_post_only_that_does_not_cross_rests(engine: MatchingEngine) -> None:
    o = engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT_MAKER, D("0.3"), D(99_995))
    assert o.status is Status.NEW and not o.fills
    assert engine.depth("BTC/USDT")[1][0] == (D(99_995), D("0.3"))
    # it is a maker: a taker selling into it pays the taker fee, it the maker fee
    t = engine.submit("maker", "BTC/USDT", Side.SELL, OrderType.MARKET, D("0.3"))
    assert t.fills[0].order_id == t.order_id and not t.fills[0].is_maker
    assert o.status is Status.FILLED and o.fills[0].is_maker


def test_post_only_that_would_cross_is_refused_unchanged(engine: MatchingEngine) -> None:
    before = snapshot(engine)
    with pytest.raises(Rejected) as err:
        engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT_MAKER, D("0.3"), D(100_000))
    assert err.value.cause is Cause.WOULD_TAKE
    assert err.value.msg == "Order would immediately match and take."
    assert snapshot(engine) == before


def test_post_only_that_would_cross_expires_okx_style(engine: MatchingEngine) -> None:
    before = snapshot(engine)
    o = engine.submit("taker", "BTC/USDT", Side.SELL, OrderType.LIMIT_MAKER, D("0.3"), D(99_980),
                      post_only_expires=True)
    assert o.status is Status.EXPIRED and o.filled == 0
    assert snapshot(engine) == before


# -- amend (OKX's amend-order) ---------------------------------------------------------------------


def test_amend_down_keeps_the_place_in_the_queue(engine: MatchingEngine) -> None:
    first = engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.4"), D(99_995))
    second = engine.submit("maker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.4"), D(99_995))
    locked = engine.accounts.locked("taker", "USDT")
    engine.amend("taker", "BTC/USDT", first.order_id, qty=D("0.1"))
    assert engine.accounts.locked("taker", "USDT") == locked - D("0.3") * 99_995
    assert engine.depth("BTC/USDT")[1][0] == (D(99_995), D("0.5"))
    hit = engine.submit("maker", "BTC/USDT", Side.SELL, OrderType.MARKET, D("0.1"))
    assert [f.order_id for f in hit.fills] == [hit.order_id]
    assert first.status is Status.FILLED and second.filled == 0  # still ahead of the later order


def test_amend_price_goes_to_the_back_and_may_trade(engine: MatchingEngine) -> None:
    first = engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.2"), D(99_990))
    engine.amend("taker", "BTC/USDT", first.order_id, price=D(99_980))
    engine.amend("taker", "BTC/USDT", first.order_id, price=D(99_990))  # back: behind the maker's 0.5
    hit = engine.submit("maker", "BTC/USDT", Side.SELL, OrderType.MARKET, D("0.5"))
    assert hit.filled == D("0.5") and first.filled == 0
    # a new price through the ask trades at once, as a taker
    engine.amend("taker", "BTC/USDT", first.order_id, price=D(100_000))
    assert first.status is Status.FILLED and not first.fills[0].is_maker
    assert engine.accounts.locked("taker", "USDT") == 0


def test_amend_refusals_change_nothing(engine: MatchingEngine) -> None:
    o = engine.submit("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT_MAKER, D("0.2"), D(99_990))
    before = snapshot(engine)
    for qty, price, cause in ((D("0.2"), D(100_000), Cause.WOULD_TAKE), (D("0.1234567891"), None, Cause.LOT),
                              (D("1000"), None, Cause.INSUFFICIENT_BALANCE)):
        with pytest.raises(Rejected) as err:
            engine.amend("taker", "BTC/USDT", o.order_id, qty, price)
        assert err.value.cause is cause
        assert snapshot(engine) == before
    engine.cancel("taker", "BTC/USDT", o.order_id)
    with pytest.raises(Rejected) as err:
        engine.amend("taker", "BTC/USDT", o.order_id, D("0.1"))
    assert err.value.cause is Cause.NOT_OPEN
