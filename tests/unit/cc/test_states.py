"""The parent and child state tables: every legal move works, every other one raises."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from seqmesh.runtime.cc.domain import (
    CHILD_TERMINAL,
    CHILD_TRANSITIONS,
    PARENT_TERMINAL,
    PARENT_TRANSITIONS,
    Child,
    ChildState,
    IllegalTransition,
    OrderType,
    Parent,
    ParentState,
    Side,
)


def parent(state: ParentState) -> Parent:
    return Parent("p1", "c", "", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(100), state, 0, 0)


def child(state: ChildState) -> Child:
    return Child("p1-0", "p1", "binance", Decimal(1), None, OrderType.MARKET, state)


def test_every_state_has_a_row_and_terminal_states_only_admit_a_late_fill() -> None:
    assert set(PARENT_TRANSITIONS) == set(ParentState)
    assert set(CHILD_TRANSITIONS) == set(ChildState)
    for s in PARENT_TERMINAL:
        assert PARENT_TRANSITIONS[s] <= {ParentState.FILLED}
    for c in CHILD_TERMINAL:
        assert CHILD_TRANSITIONS[c] <= {ChildState.FILLED}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(ParentState, ParentState)))
def test_parent_transitions_follow_the_table(a: ParentState, b: ParentState) -> None:
    p = parent(a)
    if a == b:
        assert p.transition(b) is False and p.state == a
    elif b in PARENT_TRANSITIONS[a]:
        assert p.transition(b) is True and p.state == b
    else:
        with pytest.raises(IllegalTransition, match=f"{a} -> {b}"):
            p.transition(b)
        assert p.state == a  # refused: nothing changed


@pytest.mark.parametrize(("a", "b"), list(itertools.product(ChildState, ChildState)))
def test_child_transitions_follow_the_table(a: ChildState, b: ChildState) -> None:
    c = child(a)
    if a == b:
        assert c.transition(b) is False
    elif b in CHILD_TRANSITIONS[a]:
        assert c.transition(b) is True and c.state == b
    else:
        with pytest.raises(IllegalTransition):
            c.transition(b)
        assert c.state == a


def test_a_filled_order_cannot_be_reopened_and_a_paused_algo_can_resume() -> None:
    with pytest.raises(IllegalTransition):
        parent(ParentState.FILLED).transition(ParentState.WORKING)
    p = parent(ParentState.WORKING)
    p.transition(ParentState.PAUSED)
    p.transition(ParentState.WORKING)
    assert p.state == ParentState.WORKING
