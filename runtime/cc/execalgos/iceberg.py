"""Iceberg: a limit order that shows only part of itself.

One limit slice of the display quantity (varied down by up to display_jitter, never above
it) works at a time; when it is done (filled, or ended by the venue), the next one is shown,
until the whole quantity is filled. At no moment is more than the display quantity working,
so no venue's book ever shows more of it (the router may split a slice across venues; the
parts add up to the slice)."""

from __future__ import annotations

from decimal import Decimal

from ..domain import OrderType
from .base import AlgoState, Slice, to_lot, unit
from .params import IcebergParams


class Iceberg:
    def __init__(self, p: IcebergParams, qty: Decimal) -> None:
        self.p = p
        self.qty = qty
        self.cancel_before_next = False

    def shown(self, st: AlgoState, k: int) -> Decimal:
        cut = Decimal(str(round(unit(st.order_id, k, "display") * self.p.display_jitter, 6)))
        return self.p.display * (1 - cut)

    def due(self, st: AlgoState) -> Slice | None:
        if st.live_slices or st.remaining <= 0:
            return None
        show = self.shown(st, st.n)
        qty = to_lot(min(show, st.remaining), st.lot)
        return Slice(qty, OrderType.LIMIT, st.price, st.now_ns, show, min(self.qty, st.filled + qty))

    def wake_at(self, st: AlgoState) -> int | None:
        return None

    def expired(self, st: AlgoState) -> bool:
        return False

    def projected_fill(self, st: AlgoState) -> Decimal | None:
        return None  # no end time: it works until filled or cancelled

    def planned(self, st: AlgoState) -> Decimal:
        return self.qty
