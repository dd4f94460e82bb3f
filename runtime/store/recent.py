"""The most recent final orders a process keeps in memory; older ones live only in its store.

The CC and the edge each keep their live orders in memory and, beside them, this bounded
window of final ones (duplicate submits, status queries and late events mostly ask about
recent orders). What falls out of the window is read from SQLite again when asked for, so
memory, start-up and garbage collection do not grow with the history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentFinal(Generic[T]):
    def __init__(self, capacity: int, forget: Callable[[T], None]) -> None:
        """`forget` drops an item leaving the window from the owner's own indexes."""
        self.capacity = capacity
        self._forget = forget
        self._items: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def keep(self, key: str, item: T) -> None:
        """Keep `item` as the most recent; the oldest beyond the capacity leave."""
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._forget(self._items.popitem(last=False)[1])
