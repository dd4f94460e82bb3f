"""The CC's domain: orders, fills and their state machines. Plain data and rules; it imports
nothing of the CC's infrastructure (no protobuf, no store, no event loop)."""

from .clients import ClientRecord, Role, key_digest
from .orders import Child, Fill, OrderType, Parent, Side, TimeInForce
from .states import (
    CHILD_TERMINAL,
    CHILD_TRANSITIONS,
    PARENT_TERMINAL,
    PARENT_TRANSITIONS,
    ChildState,
    IllegalTransition,
    ParentState,
)

__all__ = ["CHILD_TERMINAL", "CHILD_TRANSITIONS", "PARENT_TERMINAL", "PARENT_TRANSITIONS", "Child", "ChildState",
           "ClientRecord", "Fill", "IllegalTransition", "OrderType", "Parent", "ParentState", "Role", "Side",
           "TimeInForce", "key_digest"]
