"""Positions derived from fills (never stored): quantity, average cost, realised PnL, fees."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .domain import Fill, Side

ZERO = Decimal(0)


@dataclass
class Position:
    symbol: str
    qty: Decimal = ZERO  # signed base quantity: sum of bought minus sold
    avg_cost: Decimal = ZERO
    realized: Decimal = ZERO  # quote
    fees: Decimal = ZERO  # quote equivalent
    bought: Decimal = ZERO
    sold: Decimal = ZERO

    def apply(self, f: Fill) -> None:
        quote = f.symbol.split("/")[1]
        self.fees += f.fee_in_quote(quote)
        signed = f.qty * f.side.sign
        if f.side is Side.BUY:
            self.bought += f.qty
        else:
            self.sold += f.qty
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = self.qty + signed
            self.avg_cost = (self.avg_cost * abs(self.qty) + f.price * f.qty) / abs(total)
            self.qty = total
            return
        closing = min(abs(signed), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized += (f.price - self.avg_cost) * closing * direction
        self.qty += signed
        if self.qty == 0:
            self.avg_cost = ZERO
        elif (self.qty > 0) != (direction > 0):  # flipped through zero: the rest opens at this price
            self.avg_cost = f.price

    def unrealized(self, mark: Decimal | None) -> Decimal:
        return ZERO if mark is None or self.qty == 0 else (mark - self.avg_cost) * self.qty

    def view(self, mark: Decimal | None) -> dict[str, Any]:
        return {"symbol": self.symbol, "qty": str(self.qty), "avg_cost": str(self.avg_cost),
                "bought": str(self.bought), "sold": str(self.sold), "realized_pnl": str(self.realized),
                "fees": str(self.fees), "mark": None if mark is None else str(mark),
                "unrealized_pnl": str(self.unrealized(mark))}


class Positions:
    def __init__(self) -> None:
        self.by_client: dict[str, dict[str, Position]] = {}

    def rebuild_from(self, *client_fills: Iterable[tuple[str, Fill]]) -> None:
        self.by_client.clear()
        for fills in client_fills:
            for client, fill in fills:
                self.apply(client, fill)

    def apply(self, client: str, fill: Fill) -> None:
        book = self.by_client.setdefault(client, {})
        book.setdefault(fill.symbol, Position(fill.symbol)).apply(fill)

    def get(self, client: str, symbol: str) -> Position:
        return self.by_client.get(client, {}).get(symbol) or Position(symbol)

    def pnl(self, client: str, mark: Callable[[str], Decimal | None]) -> Decimal:
        """Realised + unrealised (marked to the NBBO mid) - fees, over every symbol."""
        return sum((p.realized + p.unrealized(mark(s)) - p.fees
                    for s, p in self.by_client.get(client, {}).items()), ZERO)
