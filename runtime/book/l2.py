"""An L2 book (price level -> total quantity) with the best bid and ask kept current.

Levels live in a dict per side for O(1) updates, beside a sorted list of prices that only
changes when a level appears or disappears (bisect + a C memmove over a few thousand ints).
The best bid/ask and their quantities are attributes, updated on every delta, because every
reader of a book wants the top first.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable


class L2Book:
    __slots__ = ("ask_prices", "asks", "best_ask", "best_ask_qty", "best_bid", "best_bid_qty", "bid_prices",
                 "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_prices: list[int] = []  # ascending; the best bid is last
        self.ask_prices: list[int] = []  # ascending; the best ask is first
        self.best_bid = self.best_bid_qty = self.best_ask = self.best_ask_qty = 0

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.bid_prices.clear()
        self.ask_prices.clear()
        self.best_bid = self.best_bid_qty = self.best_ask = self.best_ask_qty = 0

    def load_snapshot(self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]) -> None:
        self.clear()
        self.bids.update((p, q) for p, q in bids if q > 0)
        self.asks.update((p, q) for p, q in asks if q > 0)
        self.bid_prices[:] = sorted(self.bids)
        self.ask_prices[:] = sorted(self.asks)
        self._reset_top()

    def _reset_top(self) -> None:
        if self.bid_prices:
            self.best_bid = self.bid_prices[-1]
            self.best_bid_qty = self.bids[self.best_bid]
        else:
            self.best_bid = self.best_bid_qty = 0
        if self.ask_prices:
            self.best_ask = self.ask_prices[0]
            self.best_ask_qty = self.asks[self.best_ask]
        else:
            self.best_ask = self.best_ask_qty = 0

    def apply(self, is_bid: bool, price: int, qty: int) -> None:
        """Set the level at `price` to `qty` (0 removes it)."""
        self.apply_many(is_bid, ((price, qty),))

    def apply_many(self, is_bid: bool, updates: Iterable[tuple[int, int]]) -> None:
        """Apply level updates to one side; the hot path, with every lookup hoisted out of the loop."""
        if is_bid:
            levels, prices = self.bids, self.bid_prices
            best, best_qty = self.best_bid, self.best_bid_qty
            for price, qty in updates:
                if qty:
                    if price not in levels:
                        insort(prices, price)
                    levels[price] = qty
                    if price >= best:
                        best, best_qty = price, qty
                elif levels.pop(price, None) is not None:
                    del prices[bisect_left(prices, price)]
                    if price == best:
                        if prices:
                            best = prices[-1]
                            best_qty = levels[best]
                        else:
                            best = best_qty = 0
            self.best_bid, self.best_bid_qty = best, best_qty
        else:
            levels, prices = self.asks, self.ask_prices
            best, best_qty = self.best_ask, self.best_ask_qty
            for price, qty in updates:
                if qty:
                    if price not in levels:
                        insort(prices, price)
                    levels[price] = qty
                    if price <= best or not best_qty:
                        best, best_qty = price, qty
                elif levels.pop(price, None) is not None:
                    del prices[bisect_left(prices, price)]
                    if price == best:
                        if prices:
                            best = prices[0]
                            best_qty = levels[best]
                        else:
                            best = best_qty = 0
            self.best_ask, self.best_ask_qty = best, best_qty

    def levels(self, is_bid: bool, depth: int | None = None) -> list[tuple[int, int]]:
        """The top `depth` levels of a side, best first."""
        if is_bid:
            prices = self.bid_prices[::-1] if depth is None else self.bid_prices[: -depth - 1 : -1]
            return [(p, self.bids[p]) for p in prices]
        prices = self.ask_prices if depth is None else self.ask_prices[:depth]
        return [(p, self.asks[p]) for p in prices]

    def crossed(self) -> bool:
        return bool(self.best_bid_qty and self.best_ask_qty and self.best_bid >= self.best_ask)

    def to_lists(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.levels(True), self.levels(False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, L2Book) and self.bids == other.bids and self.asks == other.asks

    __hash__ = None  # type: ignore[assignment]
