"""Order states and every transition each allows, one table per kind of order.

A parent is what a client asked for (market, limit, or an execution algorithm's order);
a child is what went to one venue's edge, and mirrors the edge's own states. Changes are
made only through `check` (via `Parent.transition` / `Child.transition`): a change the
table does not allow is a bug and raises, it is never silently skipped.
"""

from __future__ import annotations

import enum


class IllegalTransition(Exception):
    pass


class ParentState(enum.StrEnum):
    NEW = "new"                          # accepted, being routed (an algo: before its first slice)
    WORKING = "working"                  # children live at venues (an algo: slicing)
    PARTIALLY_FILLED = "partially_filled"
    PAUSED = "paused"                    # an execution algorithm held by its client: no new slices
    PENDING_CANCEL = "pending_cancel"
    FILLED = "filled"
    CANCELED = "canceled"                # cancelled by the client (may hold fills)
    EXPIRED = "expired"                  # market remainder no venue could fill; an algo past its end
    REJECTED = "rejected"                # every venue refused it


P = ParentState
PARENT_TERMINAL = frozenset({P.FILLED, P.CANCELED, P.EXPIRED, P.REJECTED})
PARENT_TRANSITIONS: dict[ParentState, frozenset[ParentState]] = {
    P.NEW: frozenset({P.WORKING, P.PARTIALLY_FILLED, P.FILLED, P.PAUSED, P.PENDING_CANCEL, P.CANCELED, P.EXPIRED,
                      P.REJECTED}),
    P.WORKING: frozenset({P.PARTIALLY_FILLED, P.FILLED, P.PAUSED, P.PENDING_CANCEL, P.CANCELED, P.EXPIRED,
                          P.REJECTED}),
    P.PARTIALLY_FILLED: frozenset({P.FILLED, P.PAUSED, P.PENDING_CANCEL, P.CANCELED, P.EXPIRED}),
    # Paused: the slices already out keep working and filling; the client resumes or cancels.
    P.PAUSED: frozenset({P.WORKING, P.PARTIALLY_FILLED, P.FILLED, P.PENDING_CANCEL, P.CANCELED}),
    P.PENDING_CANCEL: frozenset({P.PARTIALLY_FILLED, P.FILLED, P.CANCELED, P.EXPIRED}),
    # A venue's late trade report can complete an order after it was declared done.
    P.CANCELED: frozenset({P.FILLED}),
    P.EXPIRED: frozenset({P.FILLED}),
    P.REJECTED: frozenset(),
    P.FILLED: frozenset(),
}


class ChildState(enum.StrEnum):
    """The edge's order states (runtime/proto/edge.proto OrderState), by name."""

    PENDING_NEW = "PENDING_NEW"          # written, not yet acknowledged by the edge
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


C = ChildState
CHILD_TERMINAL = frozenset({C.FILLED, C.CANCELED, C.REJECTED, C.EXPIRED})
CHILD_TRANSITIONS: dict[ChildState, frozenset[ChildState]] = {
    C.PENDING_NEW: frozenset({C.ACCEPTED, C.PARTIALLY_FILLED, C.FILLED, C.PENDING_CANCEL, C.CANCELED, C.REJECTED,
                              C.EXPIRED}),
    C.ACCEPTED: frozenset({C.PARTIALLY_FILLED, C.FILLED, C.PENDING_CANCEL, C.CANCELED, C.EXPIRED}),
    C.PARTIALLY_FILLED: frozenset({C.FILLED, C.PENDING_CANCEL, C.CANCELED, C.EXPIRED}),
    # The venue may fill before it sees the cancel, or refuse the cancel (back to resting).
    C.PENDING_CANCEL: frozenset({C.ACCEPTED, C.PARTIALLY_FILLED, C.FILLED, C.CANCELED, C.EXPIRED}),
    # Late trade reports: the order's fills become known after its final status.
    C.CANCELED: frozenset({C.FILLED}),
    C.EXPIRED: frozenset({C.FILLED}),
    C.FILLED: frozenset(),
    C.REJECTED: frozenset(),
}


def check_parent(order_id: str, current: ParentState, new: ParentState) -> None:
    if new not in PARENT_TRANSITIONS[current]:
        raise IllegalTransition(f"order {order_id}: {current} -> {new} is not a legal transition")


def check_child(child_id: str, current: ChildState, new: ChildState) -> None:
    if new not in CHILD_TRANSITIONS[current]:
        raise IllegalTransition(f"child {child_id}: {current} -> {new} is not a legal transition")
