"""VWAP by participation: keep what this order has done at a target share of the volume the
market actually trades in the symbol across every venue (local and other regions').

Every interval the market volume seen since the start sets the target (participation x
volume); the slice is the shortfall, if at least min_slice, capped at max_slice and at what
remains. The expected volume profile over the duration (flat unless given) is re-estimated
as volume arrives, to project how much of the order will be done by the end
(`projected_fill`); at the end the order expires with whatever is left.
"""

from __future__ import annotations

from decimal import Decimal

from ..domain import OrderType
from .base import ZERO, AlgoState, Slice, to_lot
from .params import VwapParams

NS = 1_000_000_000


class Vwap:
    def __init__(self, p: VwapParams, qty: Decimal) -> None:
        self.p = p
        self.qty = qty
        self.rate = Decimal(str(p.participation))
        self.interval_ns = int(p.interval_s * NS)
        self.end_offset_ns = int(p.duration_s * NS)
        weights = p.profile or [1.0]
        total = sum(weights)
        self.profile = [w / total for w in weights]
        self.cancel_before_next = False

    def due(self, st: AlgoState) -> Slice | None:
        at = st.started_ns + st.n * self.interval_ns
        if st.now_ns < at or st.now_ns >= st.started_ns + self.end_offset_ns:
            return None
        target = min(self.qty, self.rate * st.volume)
        short = target - (st.filled + st.working)
        want = min(short, st.remaining)
        if self.p.max_slice is not None:
            want = min(want, self.p.max_slice)
        qty = to_lot(want, st.lot)
        if qty < max(self.p.min_slice, st.lot):
            qty = ZERO  # not enough volume yet: look again next interval
        kind = OrderType.LIMIT if st.price is not None else OrderType.MARKET
        return Slice(qty, kind, st.price, at, max(short, ZERO), target)

    def wake_at(self, st: AlgoState) -> int | None:
        return st.started_ns + st.n * self.interval_ns

    def expired(self, st: AlgoState) -> bool:
        return st.now_ns >= st.started_ns + self.end_offset_ns and st.remaining + st.working > 0

    def elapsed_share(self, st: AlgoState) -> float:
        """The share of the expected volume the profile puts before `now`."""
        frac = min(max((st.now_ns - st.started_ns) / self.end_offset_ns, 0.0), 1.0)
        buckets = len(self.profile)
        whole = int(frac * buckets)
        share = sum(self.profile[:whole])
        if whole < buckets:
            share += self.profile[whole] * (frac * buckets - whole)
        return share

    def projected_volume(self, st: AlgoState) -> Decimal | None:
        """The market volume expected over the whole duration, re-estimated from what traded."""
        share = self.elapsed_share(st)
        return None if share <= 0 else st.volume / Decimal(str(share))

    def projected_fill(self, st: AlgoState) -> Decimal | None:
        total = self.projected_volume(st)
        return None if total is None else min(self.qty, self.rate * total)

    def planned(self, st: AlgoState) -> Decimal:
        return min(self.qty, self.rate * st.volume)
