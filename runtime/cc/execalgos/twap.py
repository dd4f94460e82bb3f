"""TWAP: the quantity in N even slices over the duration.

Slice k is planned at start + k x interval and moved by up to +/- time_jitter/2 of an
interval; its size is the even share, varied by up to +/- size_jitter, plus whatever earlier
slices left unfilled (catch-up). The last slice takes all that remains. With a price guard
the slices are limit orders at the guard (a working one is cancelled before the next, its
remainder caught up); without one they are market orders. After the last slice, what is
still unfilled is caught up once per interval for one more interval, then the order expires.
"""

from __future__ import annotations

from decimal import Decimal

from ..domain import OrderType
from .base import ZERO, AlgoState, Slice, to_lot, unit
from .params import TwapParams

NS = 1_000_000_000


class Twap:
    def __init__(self, p: TwapParams, qty: Decimal) -> None:
        self.p = p
        self.n = p.n
        self.qty = qty
        self.interval_ns = int(p.duration_s * NS / self.n)
        self.cancel_before_next = False

    def nominal_ns(self, st: AlgoState, k: int) -> int:
        return st.started_ns + k * self.interval_ns

    def at_ns(self, st: AlgoState, k: int) -> int:
        """Slice k's time: the nominal time moved by its seeded jitter (never before the start)."""
        if k >= self.n:  # catch-up after the plan: once per interval
            return self.nominal_ns(st, k)
        offset = (unit(st.order_id, k, "time") - 0.5) * self.p.time_jitter * self.interval_ns
        return max(st.started_ns, self.nominal_ns(st, k) + int(offset))

    def size_factor(self, st: AlgoState, k: int) -> Decimal:
        return Decimal(1) + Decimal(str(round((unit(st.order_id, k, "size") * 2 - 1) * self.p.size_jitter, 6)))

    def target_cum(self, k: int) -> Decimal:
        """Cumulative quantity after slice k, per the plan."""
        return self.qty * min(k + 1, self.n) / self.n

    def due(self, st: AlgoState) -> Slice | None:
        k = st.n
        if k > self.n or st.now_ns < self.at_ns(st, k):
            return None
        if k == self.n and (st.working > 0 or st.remaining <= 0):
            return None  # catch-up only once nothing is working
        kind = OrderType.LIMIT if st.price is not None else OrderType.MARKET
        even = self.qty / self.n
        if k >= self.n - 1:  # the last slice, or the catch-up after it: everything left
            want = st.remaining
            planned = even if k == self.n - 1 else ZERO
        else:
            planned = even * self.size_factor(st, k)
            behind = self.qty * k / self.n - (st.filled + st.working)  # earlier slices' shortfall
            want = min(st.remaining, planned + max(behind, ZERO))
        return Slice(to_lot(want, st.lot), kind, st.price, self.nominal_ns(st, k), planned, self.target_cum(k))

    def wake_at(self, st: AlgoState) -> int | None:
        """The next slice's time while one is ahead; else the end, when what is left expires
        (a slice ending wakes the scheduler before that)."""
        expiry = st.started_ns + (self.n + 1) * self.interval_ns
        if st.n <= self.n and (t := self.at_ns(st, st.n)) > st.now_ns:
            return min(t, expiry)
        return expiry

    def expired(self, st: AlgoState) -> bool:
        return st.now_ns >= st.started_ns + (self.n + 1) * self.interval_ns and st.remaining + st.working > 0

    def projected_fill(self, st: AlgoState) -> Decimal | None:
        return None  # the whole quantity by the schedule, whatever the market trades

    def planned(self, st: AlgoState) -> Decimal:
        done = (st.now_ns - st.started_ns) // self.interval_ns + 1
        return self.target_cum(max(0, min(self.n, int(done)) - 1)) if st.now_ns >= st.started_ns else ZERO
