"""A client order id names one order: the same order again gets it, another order is a conflict
that says what differs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from seqmesh.runtime.cc.domain import OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.errors import OrderError
from seqmesh.runtime.cc.orders.idempotency import same_order

D = Decimal
LIMIT = D("1000")


def known(type: OrderType = OrderType.LIMIT, price: Decimal | None = LIMIT,
          params: dict[str, object] | None = None) -> Parent:
    decision = {"algo": {"params": params}} if params is not None else {}
    return Parent("loc1", "alice", "idem-1", "BTC/USDT", Side.BUY, type, D("0.01"), price, ParentState.NEW, 1, 1,
                  decision=decision)


def test_the_same_order_written_otherwise_gets_the_known_one() -> None:
    p = known()
    assert same_order(p, "BTC/USDT", Side.BUY, D("0.0100"), OrderType.LIMIT, D("1000.00")) is p


@pytest.mark.parametrize(("change", "fields"), [
    ({"qty": D("0.02")}, "quantity"),
    ({"side": Side.SELL}, "side"),
    ({"symbol": "ETH/USDT", "price": D("999")}, "symbol,price"),
    ({"type": OrderType.MARKET, "price": None}, "type,price"),
])
def test_another_order_under_the_id_is_a_conflict_naming_the_difference(change: dict[str, object],
                                                                        fields: str) -> None:
    sent: dict[str, object] = {"symbol": "BTC/USDT", "side": Side.BUY, "qty": D("0.01"), "type": OrderType.LIMIT,
                               "price": D("1000")} | change
    with pytest.raises(OrderError) as err:
        same_order(known(), **sent)  # type: ignore[arg-type]
    e = err.value
    assert (e.status, e.code, e.detail["fields"], e.detail["order_id"]) == (409, "CLIENT_ORDER_ID_CONFLICT", fields,
                                                                           "loc1")
    assert "idem-1" in e.message and "loc1" in e.message


def test_an_algorithms_params_as_given_against_those_accepted() -> None:
    p = known(OrderType.TWAP, None, {"duration_s": 20.0, "slices": 8, "time_jitter": 0.0})
    assert same_order(p, "BTC/USDT", Side.BUY, D("0.01"), OrderType.TWAP, None, {"duration_s": 20, "slices": 8}) is p
    with pytest.raises(OrderError) as err:
        same_order(p, "BTC/USDT", Side.BUY, D("0.01"), OrderType.TWAP, None, {"duration_s": 30, "slices": 8})
    assert err.value.detail["fields"] == "params.duration_s"
