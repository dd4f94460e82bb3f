"""The L2 book against a naive model, and the exact decimal <-> integer conversions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqmesh.runtime.book.l2 import L2Book
from seqmesh.runtime.book.numbers import DecimalScale, OffGrid

delta = st.tuples(st.booleans(), st.integers(1, 60), st.integers(0, 5))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(delta, max_size=8), max_size=60))
def test_bbo_matches_a_naive_model_after_every_batch(batches: list[list[tuple[bool, int, int]]]) -> None:
    book = L2Book()
    model: dict[bool, dict[int, int]] = {True: {}, False: {}}
    for batch in batches:
        for is_bid in (True, False):
            updates = [(p, q) for b, p, q in batch if b is is_bid]
            book.apply_many(is_bid, updates)
            for p, q in updates:
                if q:
                    model[is_bid][p] = q
                else:
                    model[is_bid].pop(p, None)
        bids, asks = model[True], model[False]
        assert (book.best_bid, book.best_bid_qty) == ((max(bids), bids[max(bids)]) if bids else (0, 0))
        assert (book.best_ask, book.best_ask_qty) == ((min(asks), asks[min(asks)]) if asks else (0, 0))
        assert book.bids == bids and book.asks == asks
        assert book.levels(True) == sorted(bids.items(), reverse=True)
        assert book.levels(False, 3) == sorted(asks.items())[:3]


def test_single_apply_snapshot_and_crossed() -> None:
    book = L2Book()
    book.load_snapshot([(100, 5), (99, 1), (98, 0)], [(101, 2), (105, 7)])
    assert (book.best_bid, book.best_ask) == (100, 101) and 98 not in book.bids
    book.apply(False, 101, 0)
    assert (book.best_ask, book.best_ask_qty) == (105, 7)
    book.apply(True, 106, 3)
    assert book.crossed()
    other = L2Book()
    other.load_snapshot(book.levels(True), book.levels(False))
    assert other == book


@pytest.mark.parametrize(("step", "text", "steps", "back"), [
    ("0.01", "65000.01", 6500001, "65000.01"),
    ("0.01", "65000.0100000000", 6500001, "65000.01"),
    ("0.00001", "0.50000000", 50000, "0.5"),
    ("0.5", "2.5", 5, "2.5"),
    ("5", "15", 3, "15"),
    ("0.0001", "0", 0, "0"),
])
def test_conversions_round_trip(step: str, text: str, steps: int, back: str) -> None:
    scale = DecimalScale(step)
    assert scale.to_int(text) == steps
    assert scale.to_str(steps) == back
    assert scale.to_decimal(steps) == Decimal(text)
    assert scale.from_decimal(Decimal(text)) == steps


@pytest.mark.parametrize("text", ["65000.001", "1e5", "-1", "abc", "", ".", "1.2.3", "0x10", "65000.015"])
def test_conversions_refuse_off_grid_or_malformed(text: str) -> None:
    with pytest.raises(OffGrid):
        DecimalScale("0.01").to_int(text)
    with pytest.raises(OffGrid):
        DecimalScale("0.5").to_int("0.3")


@given(st.integers(0, 10**12), st.sampled_from(["0.01", "0.00001", "0.5", "1", "0.0025"]))
def test_to_str_is_exact(steps: int, step: str) -> None:
    scale = DecimalScale(step)
    assert Decimal(scale.to_str(steps)) == steps * Decimal(step)
    assert scale.to_int(scale.to_str(steps)) == steps
