"""The execution algorithms' policies alone: pure decisions from a state, on given times."""

from __future__ import annotations

from decimal import Decimal

from seqmesh.runtime.cc.domain import OrderType
from seqmesh.runtime.cc.execalgos.base import AlgoState
from seqmesh.runtime.cc.execalgos.iceberg import Iceberg
from seqmesh.runtime.cc.execalgos.params import IcebergParams, TwapParams, VwapParams
from seqmesh.runtime.cc.execalgos.twap import Twap
from seqmesh.runtime.cc.execalgos.vwap import Vwap

D = Decimal
S = 1_000_000_000
T0 = 1_767_225_600 * S
LOT = D("0.001")


def state(now_s: float, n: int, filled: str = "0", working: str = "0", qty: str = "1", volume: str = "0",
          live: int = 0, price: Decimal | None = None) -> AlgoState:
    return AlgoState("ord1", T0 + int(now_s * S), T0, D(qty), D(filled), D(working), live, n, D(volume), LOT, price)


def test_twap_slices_on_time_within_their_jitter_and_catches_up() -> None:
    p = TwapParams(duration_s=100, slices=4, time_jitter=0.4, size_jitter=0.2)
    twap = Twap(p, D(1))
    for k in range(4):
        at = (twap.at_ns(state(0, k), k) - T0) / S
        assert 25 * k - 5 <= at <= 25 * k + 5 and at >= 0  # +/- 0.4/2 of a 25 s interval
    t0 = (twap.at_ns(state(0, 0), 0) - T0) / S  # the first slice: at the start or up to 5 s after
    first = twap.due(state(t0, 0))
    assert first is not None and first.type is OrderType.MARKET
    assert D("0.2") <= first.qty <= D("0.3") and first.target_cum == D("0.25")
    at = (twap.at_ns(state(0, 1), 1) - T0) / S
    assert twap.due(state(at - 0.001, 1)) is None  # not yet
    # the first slice filled only 0.1: slice 1 adds the 0.15 left behind to its own share
    s1 = twap.due(state(at + 0.002, 1, filled="0.1"))
    assert s1 is not None and s1.qty >= D("0.15") + D("0.25") * D("0.8") - LOT
    last = twap.due(state(100, 3, filled="0.6", working="0.1"))
    assert last is not None and last.qty == D("0.3")  # the last takes all that remains
    assert not twap.expired(state(124, 4, filled="0.9"))
    assert twap.expired(state(125, 5, filled="0.9"))  # one interval of catch-up after the plan, then it ends
    limited = Twap(p, D(1)).due(state(t0, 0, price=D(60_000)))
    assert limited is not None and limited.type is OrderType.LIMIT and limited.price == D(60_000)


def test_twap_decisions_are_the_same_after_a_restart() -> None:
    p = TwapParams(duration_s=60, slices=6, time_jitter=0.5, size_jitter=0.5)
    a, b = Twap(p, D(1)), Twap(p, D(1))
    assert [a.at_ns(state(0, k), k) for k in range(6)] == [b.at_ns(state(0, k), k) for k in range(6)]
    assert [a.size_factor(state(0, k), k) for k in range(6)] == [b.size_factor(state(0, k), k) for k in range(6)]


def test_vwap_follows_the_traded_volume_within_its_slice_bounds() -> None:
    v = Vwap(VwapParams(duration_s=60, participation=0.1, interval_s=5, min_slice=D("0.01"), max_slice=D("0.5")),
             D(10))
    assert v.due(state(0, 0, qty="10", volume="0")).qty == 0  # nothing traded yet: nothing to do
    s = v.due(state(5, 1, qty="10", volume="3"))
    assert s is not None and s.qty == D("0.3")
    s = v.due(state(10, 2, qty="10", filled="0.3", volume="3.05"))
    assert s is not None and s.qty == 0  # 0.005 short: below min_slice, wait
    s = v.due(state(15, 3, qty="10", filled="0.3", volume="50"))
    assert s is not None and s.qty == D("0.5")  # 4.7 short, capped at max_slice
    assert v.due(state(60, 12, qty="10", volume="50")) is None and v.expired(state(60, 12, qty="10"))
    assert v.projected_fill(state(30, 6, qty="10", volume="20")) == D(4)  # 20 in half the time: 40 by the end


def test_vwap_profile_shapes_the_projection() -> None:
    v = Vwap(VwapParams(duration_s=60, participation=0.5, profile=[3, 1]), D(100))
    # three quarters of the volume is expected in the first half: 30 seen by then projects 40
    assert v.projected_volume(state(30, 6, qty="100", volume="30")) == D(40)


def test_iceberg_shows_one_slice_of_at_most_its_display_at_a_time() -> None:
    ice = Iceberg(IcebergParams(display=D("0.1"), display_jitter=0.5), D(1))
    price = D(60_000)
    for k in range(20):
        s = ice.due(state(0, k, price=price))
        assert s is not None and D("0.05") <= s.qty <= D("0.1") and s.type is OrderType.LIMIT and s.price == price
    assert ice.due(state(0, 3, working="0.1", live=1, price=price)) is None  # one at a time
    tail = ice.due(state(0, 12, filled="0.97", price=price))
    assert tail is not None and tail.qty == D("0.03")
    assert ice.wake_at(state(0, 0)) is None and not ice.expired(state(10**6, 0))
