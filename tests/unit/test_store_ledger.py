"""The ledger store, every behaviour against both backends: SQLite (a file) and PostgreSQL
(a real server started by the session's fixture)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.cc.domain import PARENT_TERMINAL as TERMINAL
from seqmesh.runtime.cc.domain import Child, ChildState, Fill, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.store import (
    LedgerStore,
    MarketSample,
    StoreConflict,
    StoreUnavailable,
    open_store,
)
from seqmesh.runtime.cc.store.postgres import PostgresLedgerStore
from seqmesh.runtime.cc.store.schema import migrations
from seqmesh.runtime.cc.store.sqlite import SqliteLedgerStore

from seqmesh.testing.postgres import PostgresServer

LATEST = len(migrations("sqlite"))


@pytest.fixture
async def store(url: str) -> AsyncIterator[LedgerStore]:
    s = await open_store(url)
    yield s
    await s.close()


def parent(order_id: str, client: str = "alice", coid: str = "", symbol: str = "BTC/USDT",
           state: ParentState = ParentState.NEW, created: int = 1, qty: str = "1.5") -> Parent:
    return Parent(order_id, client, coid, symbol, Side.BUY, OrderType.LIMIT, Decimal(qty), Decimal("65000.12345678"),
                  state, created, created, decision={"route": [{"venue": "okx", "qty": "1.5"}], "decided_ns": 7})


def child(p: Parent, k: int, venue: str = "okx") -> Child:
    c = Child(f"{p.order_id}-{k}", p.order_id, venue, Decimal("0.75"), Decimal("65000.1"), OrderType.LIMIT,
              created_ns=p.created_ns + k, updated_ns=p.created_ns + k)
    p.children.append(c)
    return c


def fill(c: Child, fill_id: str, qty: str = "0.25") -> Fill:
    return Fill(fill_id, c.child_id, c.parent_id, c.venue, "BTC/USDT", Side.BUY, Decimal("65000.00000001"),
                Decimal(qty), Decimal("0.0000001"), "BTC", True, 123, 456)


async def test_every_entity_round_trips_exactly(url: str) -> None:
    store = await open_store(url)
    p = parent("o1", coid="mine-1")
    c0, c1 = child(p, 0), child(p, 1, "kraken")
    f = fill(c0, "okx-1")
    with store.atomic():
        store.save_parent(p, "accepted")
        store.save_child(c0, "routed")
        store.save_child(c1, "routed")
    await store.durable()
    c0.state, c0.filled, c0.cum_quote, c0.sent, c0.last_seq = "PARTIALLY_FILLED", f.qty, f.qty * f.price, True, 9
    assert store.add_fill(f)
    p.fills.append(f)
    p.state, p.reason = ParentState.PARTIALLY_FILLED, "a reason"
    store.save_child(c0, "edge_event")
    store.save_parent(p, "state")
    algo = Fill("okx-a1", "algo-order-1", "", "okx", "ETH/USDT", Side.SELL, Decimal("3000.5"), Decimal("2"),
                Decimal("1.5"), "USDT", False, 1, 2)
    assert store.add_algo_fill("bob", "mm", algo)
    store.add_remote_child("eu1-0", "eu", "okx")
    store.set_cursor("okx", 41)
    store.set_flag("kill_switch", "on")
    samples = [MarketSample(10, "okx", "BTC/USDT", "trade", Decimal("65000.1"), Decimal("0.01")),
               MarketSample(11, "okx", "BTC/USDT", "mid", Decimal("65000.05"))]
    store.add_market_samples(samples)
    await store.durable()
    await store.close()

    again = await open_store(url)
    try:
        assert await again.parent("o1") == p
        assert await again.parent_by_client_id("alice", "mine-1") == p
        assert [x async for x in again.client_fills()] == [("alice", f)]
        assert await again.algo_fills() == [("bob", Fill("okx-a1", "algo-order-1", "algo:mm", "okx", "ETH/USDT",
                                                         Side.SELL, Decimal("3000.5"), Decimal("2"), Decimal("1.5"),
                                                         "USDT", False, 1, 2))]
        assert await again.remote_children() == {"eu1-0": ("eu", "okx")}
        assert await again.cursor("okx") == 41 and await again.cursor("binance") == 0
        assert await again.flag("kill_switch") == "on" and await again.flag("other") is None
        assert await again.market_samples("BTC/USDT", 0, 100) == samples
        assert await again.market_samples("BTC/USDT", 0, 100, kind="mid") == samples[1:]
        assert await again.child_venues() == {"okx", "kraken"}
        assert await again.has_fill("okx-1") and not await again.has_fill("okx-2")
        kinds = [(e["kind"], e["ref"]) for e in await again.events()]
        assert kinds == [("accepted", "o1"), ("routed", "o1-0"), ("routed", "o1-1"), ("fill", "o1"),
                         ("edge_event", "o1-0"), ("state", "o1"), ("algo_fill", "mm"), ("flag", "kill_switch")]
        [ev] = [e for e in await again.events("o1-0") if e["kind"] == "edge_event"]
        assert ev["state"] == "PARTIALLY_FILLED" and ev["filled"] == "0.25" and ev["parent"] == "o1"
    finally:
        await again.close()


async def test_a_fill_is_booked_once_whatever_repeats_it(url: str) -> None:
    store = await open_store(url)
    p = parent("o1")
    c = child(p, 0)
    store.save_parent(p)
    store.save_child(c)
    f = fill(c, "okx-1")
    assert store.add_fill(f) and not store.add_fill(f)  # in the same unit
    await store.durable()
    assert not store.add_fill(f)  # committed
    with pytest.raises(LookupError, match="load it before booking"):
        store.add_fill(fill(child(parent("stranger"), 0), "okx-9"))
    store.release(["o1"])
    with pytest.raises(LookupError):
        store.add_fill(f)  # the caller let it go: it must load it again
    await store.close()

    again = await open_store(url)
    loaded = await again.parent("o1")
    assert loaded is not None and [x.fill_id for x in loaded.fills] == ["okx-1"]
    assert not again.add_fill(f)  # after a restart: known from the load
    assert again.add_fill(fill(c, "okx-2"))
    await again.durable()
    assert [x.fill_id for x in (await again.parent("o1") or p).fills] == ["okx-1", "okx-2"]
    assert again.late_duplicates == 0
    await again.close()


async def test_algo_fills_are_idempotent_and_the_database_refuses_one_older_than_memory(url: str,
                                                                                         tmp_path: Path) -> None:
    window = 2
    path = url.removeprefix("sqlite:///")
    store: LedgerStore = (SqliteLedgerStore(Path(path), algo_fill_window=window) if url.startswith("sqlite")
                          else await PostgresLedgerStore.open(url, algo_fill_window=window))
    fills = [Fill(f"a{i}", "o", "", "okx", "ETH/USDT", Side.BUY, Decimal(1), Decimal(1), Decimal(0), "ETH", True, i, i)
             for i in range(4)]
    assert [store.add_algo_fill("bob", "mm", f) for f in fills] == [True] * 4
    assert not store.add_algo_fill("bob", "mm", fills[3])  # within the window
    await store.durable()
    # a0 left the window: memory takes it as new, the database's unique key refuses it.
    store.add_algo_fill("bob", "mm", fills[0])
    await store.durable()
    assert store.late_duplicates == 1
    assert [f.fill_id for _, f in await store.algo_fills()] == ["a0", "a1", "a2", "a3"]
    assert [e["fill_id"] for e in await store.events() if e["kind"] == "algo_fill"] == ["a0", "a1", "a2", "a3"]
    await store.close()


async def test_a_second_order_with_the_same_client_order_id_is_refused_and_others_commit(store: LedgerStore) -> None:
    store.save_parent(parent("o1", coid="same"))
    await store.durable()

    async def writer(p: Parent) -> str:
        try:
            with store.atomic():
                store.save_parent(p)
                store.save_child(child(p, 0))
            await store.durable()
        except StoreConflict:
            return "conflict"
        return "ok"

    # Both in one unit: the conflict shows at the write (SQLite) or at the commit (PostgreSQL).
    results = await asyncio.gather(writer(parent("o2", coid="same")), writer(parent("o3", coid="other")))
    assert results == ["conflict", "ok"]
    assert await store.parent("o2") is None
    o3 = await store.parent("o3")
    assert o3 is not None and [c.child_id for c in o3.children] == ["o3-0"]
    assert await store.parent_by_client_id("alice", "same") == parent("o1", coid="same")
    # The same client order id for another client is another order.
    store.save_parent(parent("o4", client="bob", coid="same"))
    await store.durable()
    assert (await store.parent_by_client_id("bob", "same") or parent("x")).order_id == "o4"


async def test_the_cursor_is_kept_with_what_it_books_or_dropped_with_it(store: LedgerStore) -> None:
    p = parent("o1")
    c = child(p, 0)
    store.save_parent(p)
    store.save_child(c)
    await store.durable()
    with pytest.raises(RuntimeError), store.atomic():
        assert store.add_fill(fill(c, "okx-1"))
        store.set_cursor("okx", 10)
        raise RuntimeError("booking failed half way")
    await store.durable()
    assert await store.cursor("okx") == 0 and not await store.has_fill("okx-1")
    with store.atomic():
        assert store.add_fill(fill(c, "okx-1"))  # the dropped block took its fill id back
        store.set_cursor("okx", 10)
    store.set_cursor("okx", 7)  # a replay's older event: the cursor never moves back
    await store.durable()
    assert await store.cursor("okx") == 10 and await store.has_fill("okx-1")


async def test_writers_of_one_loop_turn_share_one_commit_and_an_unawaited_unit_commits_anyway(
        store: LedgerStore) -> None:
    before = store.commits

    async def writer(i: int) -> None:
        store.save_parent(parent(f"o{i}", created=i))
        await store.durable()

    await asyncio.gather(*(writer(i) for i in range(20)))
    assert store.commits == before + 1
    assert len(await store.client_order_ids("alice")) == 20
    store.set_flag("f", "1")  # nobody commits: the store does, within IDLE_COMMIT_S
    for _ in range(200):
        if await store.flag("f") == "1" and store.commits == before + 2:
            break
        await asyncio.sleep(0.01)
    assert store.commits == before + 2 and await store.flag("f") == "1"


async def test_reads_by_id_client_order_id_child_and_client_listing(store: LedgerStore) -> None:
    made = []
    for i, (client, symbol, state) in enumerate([
        ("alice", "BTC/USDT", ParentState.FILLED), ("alice", "ETH/USDT", ParentState.WORKING),
        ("bob", "BTC/USDT", ParentState.NEW), ("alice", "BTC/USDT", ParentState.CANCELED),
        ("alice", "BTC/USDT", ParentState.PARTIALLY_FILLED),
    ]):
        p = parent(f"o{i}", client, f"c{i}", symbol, state, created=100 + i)
        c = child(p, 0)
        store.save_parent(p)
        store.save_child(c)
        if state is ParentState.PARTIALLY_FILLED:
            f = fill(c, f"f{i}")
            assert store.add_fill(f)
            p.fills.append(f)
        made.append(p)
    await store.durable()
    assert list(await store.live_parents(TERMINAL)) == ["o1", "o2", "o4"]  # oldest first
    assert await store.parent("o4") == made[4] and await store.parent("nope") is None
    assert await store.parents(["o3", "o0", "nope"]) == {"o0": made[0], "o3": made[3]}
    assert await store.parents([]) == {}
    assert await store.parent_by_client_id("bob", "c2") == made[2]
    assert await store.parent_by_client_id("alice", "c2") is None  # another client's id
    assert await store.parent_id_of_child("o3-0") == "o3" and await store.parent_id_of_child("x-0") is None
    assert await store.client_order_ids("alice") == ["o0", "o1", "o3", "o4"]
    assert await store.client_order_ids("alice", limit=2) == ["o3", "o4"]  # the latest, oldest first
    assert await store.client_order_ids("alice", symbol="BTC/USDT") == ["o0", "o3", "o4"]
    assert await store.client_order_ids("alice", symbol="BTC/USDT", state="canceled") == ["o3"]
    assert await store.client_order_ids("carol") == []
    assert [(cl, f.fill_id) async for cl, f in store.client_fills()] == [("alice", "f4")]
    many = [f"o{i}" for i in range(5)] + [f"missing{i}" for i in range(1200)]  # beyond one IN (...) chunk
    assert set(await store.parents(many)) == {"o0", "o1", "o2", "o3", "o4"}


async def test_a_hosted_child_final_at_our_edge_is_no_longer_loaded_at_start(url: str) -> None:
    store = await open_store(url)
    with store.atomic():
        for i in range(3):
            store.add_remote_child(f"na1-{i}", "na", "kraken")
    with store.atomic():  # finished in the unit that adds it, too
        store.add_remote_child("ap1-0", "ap", "kraken")
        store.finish_remote_child("ap1-0")
    with store.atomic():
        store.finish_remote_child("na1-1")
        store.finish_remote_child("nobody")  # not hosted here: nothing to mark
    await store.durable()
    await store.close()
    again = await open_store(url)
    try:
        assert await again.remote_children() == {"na1-0": ("na", "kraken"), "na1-2": ("na", "kraken")}
        assert await again.remote_child("na1-1") == ("na", "kraken")  # final ones answer by id
        assert await again.remote_child("ap1-0") == ("ap", "kraken")
        assert await again.remote_child("nobody") is None
    finally:
        await again.close()


async def test_migrations_are_applied_once(url: str) -> None:
    store = await open_store(url)
    assert await store.schema_version() == LATEST
    await store.close()
    again = await open_store(url)  # nothing left to apply: opens as is
    assert await again.schema_version() == LATEST
    await again.close()
    if url.startswith("sqlite"):
        import sqlite3

        rows = sqlite3.connect(url.removeprefix("sqlite:///")).execute(
            "SELECT version, name FROM schema_version ORDER BY version").fetchall()
    else:
        import asyncpg

        conn = await asyncpg.connect(url)
        rows = [tuple(r) for r in await conn.fetch("SELECT version, name FROM schema_version ORDER BY version")]
        await conn.close()
    assert rows == [(m.version, m.name) for m in migrations("sqlite")]


CRASHING_WRITER = textwrap.dedent("""
    import asyncio, sys, time
    from decimal import Decimal
    from seqmesh.runtime.cc.domain import Child, OrderType, Parent, ParentState, Side
    from seqmesh.runtime.cc.store import open_store

    async def main(url, wait):
        store = await open_store(url)
        p = Parent("o1", "alice", "", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal(1), None,
                   ParentState.NEW, 1, 1)
        store.save_parent(p, "accepted")
        store.save_child(Child("o1-0", "o1", "okx", Decimal(1), None, OrderType.MARKET), "routed")
        store.set_cursor("okx", 5)
        if wait == "durable":
            await store.durable()
        print("written", flush=True)
        time.sleep(600)  # holds the loop: nothing more can commit before the kill

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


@pytest.mark.parametrize("wait", ["durable", "nothing"])
async def test_kill_9_keeps_a_durable_unit_and_loses_an_uncommitted_one(url: str, wait: str) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CRASHING_WRITER, url, wait,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line == b"written\n", (await proc.stderr.read()).decode()
    finally:
        proc.kill()
        await proc.wait()
    store = await open_store(url)
    try:
        found = await store.parent("o1")
        if wait == "durable":
            assert found is not None and [c.child_id for c in found.children] == ["o1-0"]
            assert await store.cursor("okx") == 5
        else:
            assert found is None and await store.cursor("okx") == 0 and await store.events() == []
    finally:
        await store.close()


async def test_postgres_durability_is_the_sessions_synchronous_commit(postgres_dsn: str) -> None:
    for durability, expected in (("power-loss", "on"), ("process-crash", "off")):
        store = await PostgresLedgerStore.open(postgres_dsn, durability)
        try:
            assert await (await store._connection()).fetchval("SHOW synchronous_commit") == expected
        finally:
            await store.close()
    with pytest.raises(ValueError, match="durability must be one of power-loss, process-crash"):
        await PostgresLedgerStore.open(postgres_dsn, "sometimes")


async def test_postgres_going_away_fails_the_units_it_takes_and_the_store_carries_on_when_it_is_back() -> None:
    server = PostgresServer()  # its own: this test stops it
    try:
        store = await open_store(server.dsn(server.create_database()))
        store.save_parent(parent("o1"))
        await store.durable()
        server.stop(keep=True)
        store.save_parent(parent("o2"))
        with pytest.raises(StoreUnavailable):
            await store.durable()  # written ahead of nothing: the caller must not send o2
        with pytest.raises(StoreUnavailable, match="could not be read"):
            await store.parent("o1")  # reads fail too, clearly, while it is down
        server.start()
        store.save_parent(parent("o3"))
        await store.durable()  # a new connection
        assert list(await store.parents(["o1", "o2", "o3"])) == ["o1", "o3"]  # o2's unit was dropped whole
        await store.close()
    finally:
        server.stop()


async def test_the_last_save_of_a_row_in_a_unit_wins_and_every_save_leaves_its_event(store: LedgerStore) -> None:
    p = parent("o1")
    c = child(p, 0)
    store.save_parent(p, "accepted")
    for state in (ChildState.ACCEPTED, ChildState.PARTIALLY_FILLED, ChildState.FILLED):
        c.state = state
        store.save_child(c, "edge_event")
    p.state = ParentState.FILLED
    store.save_parent(p, "state")
    await store.durable()
    found = await store.parent("o1")
    assert found is not None and found.state is ParentState.FILLED and found.children[0].state == "FILLED"
    assert [e["state"] for e in await store.events("o1-0")] == ["ACCEPTED", "PARTIALLY_FILLED", "FILLED"]
    assert [e["kind"] for e in await store.events("o1")] == ["accepted", "state"]
