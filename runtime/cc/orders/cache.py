"""The parent orders in memory: every live one, the most recent final ones, and lookups by
client order id and child id. Older orders are read from the ledger when asked for, so memory,
start-up and garbage collection do not grow with the history."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from seqmesh.runtime.store.recent import RecentFinal

from ..domain import Child, Parent
from ..store import LedgerStore


class OrderCache:
    def __init__(self, store: LedgerStore, live: dict[str, Parent], final_in_memory: int) -> None:
        self._store = store
        #: parents not yet final: what risk, reservations and recovery look at (never the whole history)
        self.live = live
        self.recent = RecentFinal[Parent](final_in_memory, self._unindex)
        self._by_client_id: dict[tuple[str, str], Parent] = {}
        self._children: dict[str, Child] = {}
        #: live parents by (client, symbol): what the risk check's working quantity sums, per order
        self._live_by_book: dict[tuple[str, str], dict[str, Parent]] = {}
        for parent in self.live.values():
            self._index(parent)
            self._live_by_book.setdefault((parent.client, parent.symbol), {})[parent.order_id] = parent

    # -- what is in memory -----------------------------------------------------------------

    def live_parents(self) -> list[Parent]:
        return list(self.live.values())

    def live_of(self, client: str, symbol: str) -> Iterable[Parent]:
        """The client's live parents in `symbol`."""
        return self._live_by_book.get((client, symbol), {}).values()

    def live_children(self) -> Iterator[tuple[Parent, Child]]:
        for p in self.live.values():
            for c in p.children:
                yield p, c

    def add(self, parent: Parent) -> None:
        """A new parent, known at once by its client order id (a resubmit while it commits gets it)."""
        self._index(parent)

    def go_live(self, parent: Parent) -> None:
        self.live[parent.order_id] = parent
        self._live_by_book.setdefault((parent.client, parent.symbol), {})[parent.order_id] = parent

    def forget(self, parent: Parent) -> None:
        """A new parent that failed to commit."""
        self._unindex(parent)

    def finished(self, parent: Parent) -> None:
        """The parent reached a final state: from live to recent."""
        if self.live.pop(parent.order_id, None) is not None:
            book = self._live_by_book[(parent.client, parent.symbol)]
            del book[parent.order_id]
            if not book:
                del self._live_by_book[(parent.client, parent.symbol)]
            self.keep_final(parent)

    def add_children(self, children: list[Child]) -> None:
        for c in children:
            self._children[c.child_id] = c

    # -- lookups, through to the ledger ------------------------------------------------------

    async def get(self, order_id: str) -> Parent | None:
        """The parent order with this id: live or recent from memory, older from the ledger."""
        p = self.live.get(order_id) or self.recent.get(order_id)
        if p is None:
            p = await self._store.parent(order_id)  # final: every live parent is in memory
            if p is not None:
                await self.gather_slice_fills(p)
                self.keep_final(p)
        return p

    async def by_client_order_id(self, client: str, client_order_id: str) -> Parent | None:
        known = self._by_client_id.get((client, client_order_id))
        if known is None:
            known = await self._store.parent_by_client_id(client, client_order_id)  # final, if anything
            if known is not None:
                await self.gather_slice_fills(known)
                self.keep_final(known)
        return known

    def child_in_memory(self, child_id: str) -> tuple[Parent, Child] | None:
        child = self._children.get(child_id)
        if child is None:
            return None
        parent = self.live.get(child.parent_id) or self.recent.get(child.parent_id)
        return None if parent is None else (parent, child)

    async def child(self, child_id: str) -> tuple[Parent, Child] | None:
        """A child and its parent; None if it is not ours (an algo's order)."""
        found = self.child_in_memory(child_id)
        if found is None:  # a late event of an older order's child
            parent_id = await self._store.parent_id_of_child(child_id)
            if parent_id is None or await self.get(parent_id) is None:
                return None
            found = self.child_in_memory(child_id)
        return found

    async def client_orders(self, client: str, symbol: str | None = None, state: str | None = None,
                            limit: int = 500) -> list[Parent]:
        """The client's latest `limit` orders, oldest first (read-only: older ones stay in the ledger)."""
        ids = await self._store.client_order_ids(client, symbol, state, limit)
        older = await self._store.parents([i for i in ids if i not in self.live and i not in self.recent])
        for p in older.values():
            await self.gather_slice_fills(p)
        return [self.live.get(i) or self.recent.get(i) or older[i] for i in ids]

    async def gather_slice_fills(self, p: Parent) -> None:
        """An execution algorithm's fills are its slices' (the ledger books them on the slices)."""
        if not p.type.is_algo or p.fills:
            return
        for sid in p.decision.get("algo", {}).get("progress", {}).get("slices", []):
            s = self.live.get(sid) or self.recent.get(sid)
            if s is None and (s := await self._store.parent(sid)) is not None:
                self._store.release([sid])  # read for its fills only: not held
            if s is not None:
                p.fills.extend(s.fills)

    def keep_final(self, p: Parent) -> None:
        self._index(p)
        self.recent.keep(p.order_id, p)

    def _index(self, p: Parent) -> None:
        if p.client_order_id:
            self._by_client_id[(p.client, p.client_order_id)] = p
        for c in p.children:
            self._children[c.child_id] = c

    def _unindex(self, p: Parent) -> None:
        self._store.release([p.order_id])  # its fill ids leave the store's memory with it
        if self._by_client_id.get((p.client, p.client_order_id)) is p:
            del self._by_client_id[(p.client, p.client_order_id)]
        for c in p.children:
            if self._children.get(c.child_id) is c:
                del self._children[c.child_id]
