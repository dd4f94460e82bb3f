"""The edge's order state table: real-world transitions allowed, nonsense refused."""

from __future__ import annotations

import pytest
from seqmesh.runtime.edge import order_state as st
from seqmesh.runtime.proto import edge_pb2 as pb


def test_every_state_has_a_row() -> None:
    states = {v for k, v in pb.OrderState.items() if v != pb.ORDER_STATE_UNSPECIFIED}
    assert set(st.TRANSITIONS) == states
    for target in st.TERMINAL:
        assert st.TRANSITIONS[target] <= {pb.FILLED}, "a final state only ever turns into FILLED (late fills)"


@pytest.mark.parametrize(("a", "b"), [
    (pb.PENDING_CANCEL, pb.FILLED),        # filled before the venue saw our cancel
    (pb.PENDING_CANCEL, pb.ACCEPTED),      # cancel refused, still resting
    (pb.CANCELED, pb.FILLED),              # trade report arrives after the cancel ack
    (pb.EXPIRED, pb.FILLED),
    (pb.PENDING_NEW, pb.FILLED),           # a market order's reply already carries its fills
    (pb.PARTIALLY_FILLED, pb.PARTIALLY_FILLED),
])
def test_real_world_transitions_are_legal(a: int, b: int) -> None:
    st.check(a, b)


@pytest.mark.parametrize(("a", "b"), [
    (pb.FILLED, pb.CANCELED), (pb.REJECTED, pb.ACCEPTED), (pb.CANCELED, pb.ACCEPTED),
    (pb.ACCEPTED, pb.PENDING_NEW), (pb.FILLED, pb.PARTIALLY_FILLED),
])
def test_impossible_transitions_raise(a: int, b: int) -> None:
    with pytest.raises(st.IllegalTransition, match="->"):
        st.check(a, b)
