"""Calling a public-SDK module (`public_abi.py`) through the host's Instance: where each callback's
data goes in guest memory, and the actions it returns.

At bind time the guest's allocator (`algo_alloc`) gives one block for the per-call regions (book,
state, NBBO, fill, reject, message payload); the fixed tables (features, venue and pool books,
config, mesh table) are written where the SDK reads them. Every callback gets the current
AlgoState, written by the caller's view of the instance (position, open orders, PnL).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import public_abi as P
from .host import AbiViolation, Instance

#: The per-call regions, in the order they are carved out of the one allocated block (8-aligned).
_REGIONS = (("book", P.BOOK.size), ("state", P.STATE_SIZE), ("nbbo", P.NBBO.size), ("fill", P.FILL.size),
            ("reject", P.REJECT.size), ("payload", P.MAX_MESSAGE))


class PublicGuest:
    def __init__(self, instance: Instance, identity: P.Identity, params: dict[str, str], now_ns: int) -> None:
        self.instance = instance
        self.identity = identity
        self.at: dict[str, int] = {}
        size = sum(-(-n // 8) * 8 for _, n in _REGIONS)
        block = instance.call("algo_alloc", size)
        if block is None:
            raise AbiViolation(f"algo_alloc trapped: {instance.stopped}")
        try:
            instance.check_region(block, size)
        except AbiViolation:
            raise AbiViolation(f"algo_alloc({size}) returned {block}, outside its memory "
                               "(the SDK's bump heap is 64 KiB)") from None
        if block < P.FIXED_END and block + size > P.VENUE_BOOKS_AT:
            raise AbiViolation(f"algo_alloc returned {block:#x}, inside the SDK's fixed tables "
                               f"({P.VENUE_BOOKS_AT:#x}..{P.FIXED_END:#x})")
        for name, n in _REGIONS:
            self.at[name] = block
            block += -(-n // 8) * 8
        self.peers: list[str] = [p for p in identity.peers if p != identity.self_label][:P.MAX_PEERS]
        instance.write(self.at["state"], P.encode_state(identity, P.StateView(), self.peers))
        self._orders_written = 0  # order slots of AlgoState the last write filled
        self._write_mesh()
        instance.write(P.CONFIG_AT, P.encode_config(params, now_ns))
        instance.write(P.FEATURES_AT, P.encode_features([], [], now_ns))
        self.sequence = 0

    @property
    def exports(self) -> set[str]:
        return set(self.instance.exports)

    def _write_mesh(self) -> None:
        self.instance.peer_labels = {P.mesh_id(p): p for p in self.peers}
        self.instance.write(P.MESH_TABLE_AT, P.encode_mesh_table(self.identity.self_label, self.peers))
        self.instance.write(self.at["state"] + P.STATE_TAIL_AT, P.encode_state_tail(self.identity, self.peers))

    def learn_peer(self, label: str) -> None:
        """A sibling that wrote first (from another region, say): it goes into the mesh table."""
        if label not in self.peers and label != self.identity.self_label and len(self.peers) < P.MAX_PEERS:
            self.peers.append(label)
            self._write_mesh()

    # -- callbacks ----------------------------------------------------------------------------

    def on_book(self, book: bytes, features: bytes, state: P.StateView) -> list[P.PublicAction]:
        self.instance.write(self.at["book"], book)
        self.instance.write(P.FEATURES_AT, features)
        return self._actions("algo_on_book_v3", self._state(state), self.at["book"], self.at["state"])

    def on_nbbo(self, nbbo: bytes, venue_books: bytes, state: P.StateView) -> list[P.PublicAction]:
        if "algo_on_nbbo" not in self.instance.exports:
            return []
        self.instance.write(self.at["nbbo"], nbbo)
        self.instance.write(P.VENUE_BOOKS_AT, venue_books)
        return self._actions("algo_on_nbbo", self._state(state), self.at["nbbo"], P.VENUE_BOOKS_AT,
                             self.at["state"])

    def set_pools(self, pool_books: bytes, pool_states: bytes, chain_fees: bytes) -> None:
        """PoolBooks, PoolStateTable and ChainFeeTable, read by the guest from their fixed addresses
        in any callback."""
        self.instance.write(P.POOL_BOOKS_AT, pool_books)
        self.instance.write(P.POOL_STATES_AT, pool_states)
        self.instance.write(P.CHAIN_FEES_AT, chain_fees)

    def on_message(self, sender: str, payload: bytes, state: P.StateView) -> list[P.PublicAction]:
        if "algo_on_message" not in self.instance.exports:
            return []
        self.learn_peer(sender)
        payload = payload[:P.MAX_MESSAGE]
        self.instance.write(self.at["payload"], payload)
        return self._actions("algo_on_message", self._state(state), P.mesh_id(sender), self.at["payload"],
                             len(payload), self.at["state"])

    def on_heartbeat(self, state: P.StateView) -> list[P.PublicAction]:
        return self._actions("algo_on_heartbeat", self._state(state), self.at["state"])

    def on_shutdown(self, state: P.StateView) -> list[P.PublicAction]:
        return self._actions("algo_on_shutdown", self._state(state), self.at["state"])

    def on_fill(self, fill: bytes, state: P.StateView) -> None:
        if "algo_on_fill" in self.instance.exports:
            self.instance.write(self.at["fill"], fill)
            self.instance.call("algo_on_fill", self.at["fill"], self._state(state))

    def on_reject(self, order_id: int, code: int) -> None:
        if "algo_on_reject" in self.instance.exports:
            self.instance.write(self.at["reject"], P.encode_reject(order_id, code))
            self.instance.call("algo_on_reject", self.at["reject"])

    # -- plumbing -------------------------------------------------------------------------------

    def _state(self, view: P.StateView) -> int:
        """AlgoState as of `view`: its changing parts (the constant rest is written with the mesh table)."""
        at = self.at["state"]
        self.instance.write(at, P.encode_state_orders(view, self._orders_written))
        self.instance.write(at + P.STATE_MID_AT, P.encode_state_mid(view))
        self._orders_written = min(len(view.orders), P.MAX_ORDERS)
        return at

    def _actions(self, export: str, _state_ptr: int, *args: int) -> list[P.PublicAction]:
        if export not in self.instance.exports:
            return []
        ptr = self.instance.call(export, *args)
        if ptr is None or ptr == 0:
            return []
        try:
            if self.instance.peek_u32(ptr & 0xFFFFFFFF) == 0:  # the common case: nothing to do
                return []
            return P.decode_actions(self.instance.read(ptr & 0xFFFFFFFF, P.ACTIONS_SIZE))
        except (AbiViolation, ValueError) as exc:
            self.instance.stop(f"ABI violation: {export} {exc}")
            return []


__all__: Sequence[str] = ["PublicGuest"]
