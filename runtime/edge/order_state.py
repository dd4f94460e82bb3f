"""The edge's order states and every transition it allows, in one table.

Real venues report out of order: a fill can arrive after we asked to cancel (it happened
first at the venue), a cancel can be refused because the order already filled, and a fill
can be learned after the venue said CANCELED or EXPIRED (the trade report lagged the order
report). Those transitions are legal here; anything else is a bug and raises.
"""

from __future__ import annotations

from seqmesh.runtime.proto.edge_pb2 import OrderState

S = OrderState
PENDING_NEW, ACCEPTED, PARTIALLY_FILLED = S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED
PENDING_CANCEL = S.PENDING_CANCEL
FILLED, CANCELED, REJECTED, EXPIRED = S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED

TERMINAL: frozenset[int] = frozenset({FILLED, CANCELED, REJECTED, EXPIRED})
LIVE: frozenset[int] = frozenset({PENDING_NEW, ACCEPTED, PARTIALLY_FILLED, PENDING_CANCEL})

TRANSITIONS: dict[int, frozenset[int]] = {
    PENDING_NEW: frozenset({ACCEPTED, PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, REJECTED, EXPIRED}),
    ACCEPTED: frozenset({PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, EXPIRED}),
    PARTIALLY_FILLED: frozenset({PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, EXPIRED}),
    # The venue may fill before it sees the cancel, or refuse the cancel (back to resting).
    PENDING_CANCEL: frozenset({PENDING_CANCEL, ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED}),
    # Late trade reports: the order's fills become known after its final status.
    CANCELED: frozenset({FILLED}),
    EXPIRED: frozenset({FILLED}),
    FILLED: frozenset(),
    REJECTED: frozenset(),
}


class IllegalTransition(Exception):
    pass


def name(state: int) -> str:
    return OrderState.Name(state)  # type: ignore[arg-type]


def check(current: int, new: int) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"{name(current)} -> {name(new)} is not a legal order transition")


def can(current: int, new: int) -> bool:
    return new in TRANSITIONS[current]
