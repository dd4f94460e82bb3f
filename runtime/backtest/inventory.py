"""A position on an average cost: what each fill closes is realised (the edge's AlgoManager keeps
the same figures for a public-SDK guest's AlgoState)."""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


class AverageCost:
    def __init__(self) -> None:
        self.position = ZERO  # base quantity, long positive
        self.cost = ZERO  # average price of the open position
        self.realised = ZERO  # quote, before fees

    def add(self, sign: int, price: Decimal, qty: Decimal) -> None:
        closing = min(qty, abs(self.position)) if self.position * sign < 0 else ZERO
        if closing:
            self.realised += closing * (price - self.cost) * -sign
            self.position += sign * closing
        opening = qty - closing
        if opening:
            held = abs(self.position)
            self.cost = (self.cost * held + price * opening) / (held + opening)
            self.position += sign * opening
        if not self.position:
            self.cost = ZERO

    def unrealised(self, mark: Decimal | None) -> Decimal:
        return self.position * (mark - self.cost) if mark is not None and self.position else ZERO
