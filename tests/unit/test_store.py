"""The SQLite store under the ledger and the journal: atomic blocks, group commit, rollback scope."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from seqmesh.runtime.store.sqlite import SqliteStore

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER PRIMARY KEY);"


def rows(path: Path) -> list[int]:
    """What another connection (a restarted process) sees: only committed data."""
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT x FROM t ORDER BY x")]
    finally:
        db.close()


def test_a_failing_block_writes_nothing_nested_blocks_included(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite", SCHEMA)
    with store:
        store.db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), store:
        store.db.execute("INSERT INTO t VALUES (2)")
        with store:
            store.db.execute("INSERT INTO t VALUES (3)")
        raise RuntimeError("boom")
    assert rows(tmp_path / "s.sqlite") == [1] and store.commits == 1
    store.close()


def test_group_commit_shares_one_commit_and_a_failing_writer_undoes_only_its_own(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    store = SqliteStore(path, SCHEMA)

    async def writer(x: int, fail: bool = False) -> None:
        store.begin_group()
        try:
            with store:
                store.db.execute("INSERT INTO t VALUES (?)", (x,))
                with store:
                    store.db.execute("INSERT INTO t VALUES (?)", (x + 100,))
                if fail:
                    raise ValueError(x)
        except ValueError:
            pass
        await store.durable()

    async def main() -> None:
        await asyncio.gather(writer(1), writer(2, fail=True), writer(3))

    asyncio.run(main())
    assert rows(path) == [1, 3, 101, 103] and store.commits == 1
    store.close()


def test_commit_soon_commits_without_a_waiter_and_tells_who_serves_committed_data(tmp_path: Path) -> None:
    """The edge's event stream serves only what `on_commit` has announced: rows the writer's own
    connection already sees may still be undone by a crash until then."""
    path = tmp_path / "c.sqlite"
    store = SqliteStore(path, SCHEMA)
    seen: list[list[int]] = []
    store.on_commit.append(lambda: seen.append(rows(path)))

    async def main() -> None:
        store.begin_group()
        store.db.execute("INSERT INTO t VALUES (1)")
        store.commit_soon()
        store.begin_group()  # joins the open group
        store.db.execute("INSERT INTO t VALUES (2)")
        store.commit_soon()
        assert rows(path) == [] and seen == []  # visible to the writer only, not yet on disk
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert seen == [[1, 2]] and store.commits == 1
    store.close()


def test_durability_is_explicit(tmp_path: Path) -> None:
    assert SqliteStore(tmp_path / "a.sqlite", SCHEMA).db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    lax = SqliteStore(tmp_path / "b.sqlite", SCHEMA, "process-crash")
    assert lax.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: WAL written, not fsynced, per commit
    with pytest.raises(ValueError, match="durability must be one of power-loss, process-crash"):
        SqliteStore(tmp_path / "c.sqlite", SCHEMA, "sometimes")


def test_a_delayed_commit_waits_unless_a_writer_needs_durability_first(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    store = SqliteStore(path, SCHEMA)

    async def main() -> None:
        store.begin_group()
        store.db.execute("INSERT INTO t VALUES (1)")
        store.commit_soon(0.05)
        await asyncio.sleep(0.01)
        assert rows(path) == []  # still waiting: an answer under way goes out first
        store.begin_group()
        store.db.execute("INSERT INTO t VALUES (2)")
        await store.durable()  # a write-ahead: committed at once, with the delayed writes
        assert rows(path) == [1, 2] and store.commits == 1
        store.begin_group()
        store.db.execute("INSERT INTO t VALUES (3)")
        store.commit_soon(0.02)
        await asyncio.sleep(0.05)  # nobody else commits: the delay runs out
        assert rows(path) == [1, 2, 3] and store.commits == 2

    asyncio.run(main())
    store.close()
