"""`seqmesh algo logs -f`: which lines of an edge's log (its last lines only) are new."""

from __future__ import annotations

from seqmesh.client.algo_cli import new_lines


def test_new_lines_after_growth_and_roll_off() -> None:
    assert new_lines([], ["a", "b"]) == ["a", "b"]
    assert new_lines(["a", "b"], ["a", "b", "c"]) == ["c"]
    assert new_lines(["a", "b", "c"], ["a", "b", "c"]) == []
    # the edge keeps its last 3: "a" rolled off the front while "d" and "e" came
    assert new_lines(["a", "b", "c"], ["c", "d", "e"]) == ["d", "e"]
    # more came than the edge keeps: nothing overlaps, all of it is new
    assert new_lines(["a", "b", "c"], ["x", "y", "z"]) == ["x", "y", "z"]
