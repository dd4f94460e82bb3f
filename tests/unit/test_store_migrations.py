"""A ledger written by the CC before the store interface (seqmesh/testing/legacy_ledger.py) opens with the
SQLite store, is migrated, and reads back exactly as the old code reads it."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.cc.domain import PARENT_TERMINAL as TERMINAL
from seqmesh.runtime.cc.domain import Child, ChildState, Fill, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.store import open_store
from seqmesh.runtime.cc.store.schema import Migration, migrations
from seqmesh.runtime.cc.store.sqlite import SqliteLedgerStore, migrate

from seqmesh.testing.legacy_ledger import SCHEMA, Ledger


def write_with_todays_ledger(path: Path) -> Ledger:
    ledger = Ledger(path)
    for i, state in enumerate([ParentState.FILLED, ParentState.WORKING, ParentState.CANCELED]):
        p = Parent(f"o{i}", "alice" if i < 2 else "bob", f"c{i}", "BTC/USDT", Side.SELL, OrderType.LIMIT,
                   Decimal("2.50"), Decimal("64999.99"), state, 10 + i, 20 + i, "why" if i else "", bool(i == 2),
                   i, {"route": [{"venue": "okx", "qty": "2.5"}], "decided_ns": i})
        ledger.save_parent(p, "accepted")
        for k, venue in enumerate(["okx", "kraken"]):
            c = Child(f"o{i}-{k}", p.order_id, venue, Decimal("1.25"), Decimal("64999.99"), OrderType.LIMIT,
                      ChildState.FILLED if state is ParentState.FILLED else ChildState.ACCEPTED, f"v{i}{k}",
                      Decimal("0.5") * k, Decimal("32499.995") * k, "", True, 3 + k, 30 + k, 40 + k)
            ledger.save_child(c, "routed")
            if k:
                ledger.add_fill(Fill(f"{venue}-{i}", c.child_id, p.order_id, venue, "BTC/USDT", Side.SELL,
                                     Decimal("64999.99"), Decimal("0.5"), Decimal("0.0325"), "USDT", i == 1, 5, 6))
    ledger.add_algo_fill("bob", "mm", Fill("okx-a", "algo-1", "", "okx", "ETH/USDT", Side.BUY, Decimal("3000"),
                                           Decimal("0.1"), Decimal("0.0001"), "ETH", True, 7, 8))
    ledger.add_remote_child("eu1-0", "eu", "okx")
    ledger.set_cursor("okx", 1_000_042)
    ledger.set_cursor("kraken", 7)
    ledger.set_flag("kill_switch", "off")
    return ledger


async def test_a_ledger_of_todays_schema_is_migrated_and_reads_back_identically(tmp_path: Path) -> None:
    path = tmp_path / "cc.sqlite"
    old = write_with_todays_ledger(path)
    expected = {
        "live": old.live_parents(TERMINAL),
        "all": old.parents(["o0", "o1", "o2"]),
        "by_client_id": old.parent_by_client_id("bob", "c2"),
        "fills": list(old.client_fills()),
        "algo_fills": old.algo_fills(),
        "remote": old.remote_children(),
        "venues": old.child_venues(),
        "cursors": (old.cursor("okx"), old.cursor("kraken")),
        "flag": old.flag("kill_switch"),
        "events": old.events(),
        "listing": old.client_order_ids("alice", None, None, 10),
    }
    old.close()

    store = await open_store(f"sqlite:///{path}")
    assert await store.schema_version() == len(migrations("sqlite"))
    got = {
        "live": await store.live_parents(TERMINAL),
        "all": await store.parents(["o0", "o1", "o2"]),
        "by_client_id": await store.parent_by_client_id("bob", "c2"),
        "fills": [x async for x in store.client_fills()],
        "algo_fills": await store.algo_fills(),
        "remote": await store.remote_children(),
        "venues": await store.child_venues(),
        "cursors": (await store.cursor("okx"), await store.cursor("kraken")),
        "flag": await store.flag("kill_switch"),
        "events": await store.events(),
        "listing": await store.client_order_ids("alice"),
    }
    assert got == expected
    assert [p.order_id for p in got["live"].values()] == ["o1"] and len(got["fills"]) == 3
    # It goes on as a ledger: what was booked stays booked, new tables are there.
    o1 = got["all"]["o1"]
    assert not store.add_fill(o1.fills[0])
    assert not store.add_algo_fill("bob", "mm", got["algo_fills"][0][1])
    await store.close()
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"market_samples", "schema_version"} <= tables and "exec_algos" not in tables


def test_migration_0001_is_todays_schema_exactly(tmp_path: Path) -> None:
    todays = sqlite3.connect(tmp_path / "today.sqlite")
    todays.executescript(SCHEMA)
    fresh = sqlite3.connect(tmp_path / "fresh.sqlite")
    migrate(fresh, migrations("sqlite")[:1])

    def schema(db: sqlite3.Connection) -> list[tuple[str, str]]:
        return db.execute("SELECT name, sql FROM sqlite_master WHERE name NOT IN ('schema_version', 'sqlite_sequence')"
                          " ORDER BY name").fetchall()

    assert schema(fresh) == schema(todays)
    assert {name for name, sql in schema(fresh) if sql and sql.startswith("CREATE TABLE")} == {
        "parents", "children", "fills", "events", "algo_fills", "edge_cursors", "flags", "remote_children"}


def test_a_ledger_older_than_last_seq_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA.replace(", last_seq INTEGER NOT NULL DEFAULT 0", "") +
                     "INSERT INTO parents VALUES ('p1', 'dev', NULL, 'BTC/USDT', 'buy', 'market', '1', NULL, 'filled',"
                     " '', 0, 0, '{}', 1, 2);"
                     "INSERT INTO children VALUES ('p1-0', 'p1', 'okx', '1', NULL, 'market', 'FILLED', '9', '1',"
                     " '65000', '', 1, 1, 2);")
    db.close()
    store = SqliteLedgerStore(path)
    [c] = store._load("order_id = 'p1'")["p1"].children
    assert c.last_seq == 0 and c.filled == 1 and c.state == "FILLED"


def test_a_failing_migration_leaves_the_ledger_as_it_was(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite", isolation_level=None)
    good = migrations("sqlite")
    broken = Migration(len(good) + 1, "broken", "CREATE TABLE half (x INTEGER);\nCREATE TABLE parents (x INTEGER);")
    with pytest.raises(sqlite3.OperationalError, match="parents already exists"):
        migrate(db, [*good, broken])
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == len(good)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    newer = Migration(len(good) + 1, "newer", "CREATE TABLE later (x INTEGER);")
    assert migrate(db, [*good, newer]) == len(good) + 1
    with pytest.raises(RuntimeError, match="newer than this seqmesh knows"):
        migrate(db, good)


async def test_postgres_migrations_run_in_order_and_a_failing_one_changes_nothing(postgres_dsn: str) -> None:
    import asyncpg
    from seqmesh.runtime.cc.store import postgres

    conn = await asyncpg.connect(postgres_dsn)
    try:
        good = migrations("postgresql")
        broken = Migration(len(good) + 1, "broken", "CREATE TABLE half (x INTEGER); CREATE TABLE parents (x INTEGER);")
        with pytest.raises(asyncpg.DuplicateTableError):
            await postgres.migrate(conn, [*good, broken])
        assert await conn.fetchval("SELECT max(version) FROM schema_version") == len(good)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await postgres.migrate(conn) == len(good)  # idempotent
    finally:
        await conn.close()


async def test_two_ccs_opening_one_postgres_database_at_once_migrate_it_once(postgres_dsn: str) -> None:
    import asyncio

    import asyncpg
    from seqmesh.runtime.cc.store.postgres import PostgresLedgerStore

    stores = await asyncio.gather(PostgresLedgerStore.open(postgres_dsn), PostgresLedgerStore.open(postgres_dsn))
    for store in stores:
        assert await store.schema_version() == len(migrations("postgresql"))
        await store.close()
    conn = await asyncpg.connect(postgres_dsn)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]
    finally:
        await conn.close()
    assert versions == list(range(1, len(migrations("postgresql")) + 1))


async def test_a_ledger_from_before_forwarded_credentials_gains_their_table(tmp_path: Path) -> None:
    """0008 on a ledger at 0007 with hosted children and stored credentials: those stay as they
    were, no account is anyone's yet, and the CC keeps who forwarded which from now on."""
    path = tmp_path / "cc.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    before = migrations("sqlite")[:7]
    assert [m.name for m in before][-1] == "credentials"
    migrate(db, before)
    db.executescript("INSERT INTO remote_children (child_id, origin, venue, created_ns, client)"
                     " VALUES ('na1-0', 'na', 'binance', 1, 'alice');"
                     "INSERT INTO credentials VALUES ('cred-1', 'bob', 'okx', 'fp', '[\"read\"]', 2, 'k1', 'd2',"
                     " 's3');")
    db.close()

    store = await open_store(f"sqlite:///{path}")
    try:
        assert await store.schema_version() == len(migrations("sqlite")) >= 8
        assert await store.forwarded_credentials() == {}
        assert await store.remote_children() == {"na1-0": ("na", "binance")}
        assert await store.remote_child_clients() == {"na1-0": "alice"}
        assert [(c.credential_id, c.client, c.venue, c.sealed) for c in await store.credentials()] == [
            ("cred-1", "bob", "okx", "s3")]
        store.add_forwarded_credential("cred-2", "na", "alice", "binance")
        await store.durable()
        assert await store.forwarded_credentials() == {"cred-2": ("na", "alice", "binance")}
    finally:
        await store.close()


async def test_postgres_ledger_from_before_forwarded_credentials_gains_their_table(postgres_dsn: str) -> None:
    import asyncpg
    from seqmesh.runtime.cc.store import postgres

    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await postgres.migrate(conn, migrations("postgresql")[:7]) == 7
        await conn.execute("INSERT INTO remote_children (child_id, origin, venue, created_ns, client)"
                           " VALUES ('na1-0', 'na', 'binance', 1, 'alice')")
    finally:
        await conn.close()
    store = await open_store(postgres_dsn)
    try:
        assert await store.schema_version() == len(migrations("postgresql")) >= 8
        assert await store.forwarded_credentials() == {}
        assert await store.remote_child_clients() == {"na1-0": "alice"}
        store.add_forwarded_credential("cred-2", "na", "alice", "binance")
        await store.durable()
        assert await store.forwarded_credentials() == {"cred-2": ("na", "alice", "binance")}
    finally:
        await store.close()
