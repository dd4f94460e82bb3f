"""Which fills are booked, answered in memory so `add_fill` can say at once (see `ports`).

Fill ids are kept per parent the caller holds (handed out by a read or given to
`save_parent`, until `release`), and for the most recent algo fills in a bounded window.
A block of writes that is dropped (`atomic()` left by an exception) takes back the ids it added.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable

from seqmesh.runtime.cc.domain import Parent

from .ports import ALGO_FILL_WINDOW

_ALGO = ""  # the undo log's parent id for an algo fill
_UNKNOWN: set[str] = set()  # `add`'s marker for a parent not held (never filled)


class FillIds:
    def __init__(self, algo_window: int = ALGO_FILL_WINDOW) -> None:
        self._by_parent: dict[str, set[str] | None] = {}  # None: held, no fill yet (no set per order)
        self._algo: OrderedDict[str, None] = OrderedDict()
        self._algo_window = algo_window
        self._added: list[tuple[str, str]] = []  # (parent id or _ALGO, fill id) in the open block
        self._depth = 0

    def hold(self, p: Parent) -> None:
        """The caller read `p`: its fills (as read, plus any booked since) are known."""
        ids = self._by_parent.get(p.order_id)
        if ids is None:
            self._by_parent[p.order_id] = {f.fill_id for f in p.fills} if p.fills else None
        elif p.fills:
            ids.update(f.fill_id for f in p.fills)

    def hold_all(self, parents: Iterable[Parent]) -> None:
        for p in parents:
            self.hold(p)

    def saved(self, p: Parent) -> None:
        """The caller saved `p`: held from now on if it was not (its fills came through `add`).
        Cheap on purpose: every order is saved several times on the order path."""
        if p.order_id not in self._by_parent:
            self._by_parent[p.order_id] = {f.fill_id for f in p.fills} if p.fills else None

    def release(self, order_ids: Collection[str]) -> None:
        for order_id in order_ids:
            self._by_parent.pop(order_id, None)

    def add(self, parent_id: str, fill_id: str) -> bool:
        """True (and remembered) if `fill_id` is new for this held parent."""
        ids = self._by_parent.get(parent_id, _UNKNOWN)
        if ids is _UNKNOWN:
            raise LookupError(f"fill {fill_id}: parent {parent_id!r} was never read from or saved to this store "
                              "(or was released); load it before booking its fills")
        if ids is None:
            self._by_parent[parent_id] = {fill_id}
        elif fill_id in ids:
            return False
        else:
            ids.add(fill_id)
        if self._depth:
            self._added.append((parent_id, fill_id))
        return True

    def add_algo(self, fill_id: str) -> bool:
        if fill_id in self._algo:
            return False
        self.remember_algo([fill_id])
        if self._depth:
            self._added.append((_ALGO, fill_id))
        return True

    def remember_algo(self, fill_ids: Iterable[str]) -> None:
        """Algo fill ids already booked (oldest first), kept within the window."""
        for fill_id in fill_ids:
            self._algo[fill_id] = None
        while len(self._algo) > self._algo_window:
            self._algo.popitem(last=False)

    # -- blocks ----------------------------------------------------------------------------

    def begin_block(self) -> None:
        """An atomic block opens; nested blocks join the outermost one."""
        self._depth += 1

    def end_block(self, kept: bool) -> None:
        """The block closes; if the outermost one was dropped, forget the ids it added."""
        self._depth -= 1
        if self._depth:
            return
        if not kept:
            for parent_id, fill_id in reversed(self._added):
                if parent_id == _ALGO:
                    self._algo.pop(fill_id, None)
                elif (ids := self._by_parent.get(parent_id)) is not None:
                    ids.discard(fill_id)
        self._added.clear()
