"""The ledger in PostgreSQL, through asyncpg: for production regions.

Writes are buffered per unit of work (blocks of ops, see `ports`) and a unit commits in one
transaction on the store's own connection, with its rows coalesced (a child saved five times
in a unit is written once, as last saved) and sent per table in one round trip (executemany,
or one `unnest` insert where the answer says which fills were new). Commits run one at a
time; what is written while one runs goes in the next, so a busy loop shares commits.

A unit that breaks a constraint is retried block by block, each in a savepoint: the blocks
that break it are dropped and their writers' `durable()` raises `StoreConflict`; the rest
commits. A unit that cannot commit at all (the server is down) is dropped: its waiters get
`StoreUnavailable` (an order written ahead is then not sent), booking writes are recovered
from the edge's replay after the cursor that was dropped with them; the next unit reconnects.

Amounts are NUMERIC (exact, and summable in SQL for reporting); asyncpg maps them to and
from Decimal. Durability "power-loss" commits with `synchronous_commit = on` (the WAL is
flushed on the server, and on synchronous standbys, before COMMIT returns); "process-crash"
with `off` (a CC crash loses nothing it was told is durable, a crash of the database server
may lose its last few hundred milliseconds). Reads go through a small pool of other
connections and see what is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import orjson
from seqmesh.runtime.cc.domain import Child, ClientRecord, Fill, Parent, ParentState
from seqmesh.runtime.store.timer import EarliestCall

from . import rows
from .fillids import FillIds
from .ports import ALGO_FILL_WINDOW, IDLE_COMMIT_S, MarketSample, StoreConflict, StoredCredential, StoreUnavailable
from .schema import VERSION_TABLE, Migration, migrations

log = logging.getLogger(__name__)

#: durability -> PostgreSQL's synchronous_commit for the store's sessions
SYNCHRONOUS_COMMIT = {"power-loss": "on", "process-crash": "off"}
_MIGRATION_LOCK = 0x5E9_4E54  # pg_advisory_xact_lock key: one CC migrates at a time


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


async def migrate(conn: asyncpg.Connection, known: list[Migration] | None = None) -> int:
    """Apply the migrations (`known`: the package's) this database lacks, each in its own
    transaction; returns the version."""
    known = migrations("postgresql") if known is None else known
    for m in known:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(VERSION_TABLE)
            current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
            if current >= m.version:
                continue  # applied before (or by another CC meanwhile)
            await conn.execute(m.sql)
            await conn.execute("INSERT INTO schema_version (version, name, applied_ns) VALUES ($1, $2, $3)",
                               m.version, m.name, time.time_ns())
            current = m.version
    current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
    if current > len(known):
        raise RuntimeError(f"the ledger's schema is at version {current}, newer than this seqmesh knows "
                           f"({len(known)}): run the newer version")
    return int(current)


#: what a lost or refused connection raises (a query's own mistakes are not among them)
_CONNECTION_ERRORS = (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresConnectionError,
                      asyncpg.exceptions.OperatorInterventionError)
T = TypeVar("T")
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Pooled = PoolConnectionProxy[asyncpg.Record]


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, _CONNECTION_ERRORS) and not isinstance(exc, asyncpg.DataError)


# -- ops: one write each; a unit's ops become one statement per table --------------------------

PARENT, CHILD, FILL, ALGO_FILL, REMOTE, REMOTE_FINAL, FORWARDED, CURSOR, FLAG, CLIENT, SAMPLE, EVENT = range(12)

_UPSERT_PARENT = (
    f"INSERT INTO parents ({rows.PARENT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)"
    " ON CONFLICT (order_id) DO UPDATE SET state=excluded.state, reason=excluded.reason,"
    " cancel_requested=excluded.cancel_requested, reroutes=excluded.reroutes, decision=excluded.decision,"
    " updated_ns=excluded.updated_ns,"
    " qty=excluded.qty, price=excluded.price")
_UPSERT_CHILD = (
    f"INSERT INTO children ({rows.CHILD_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)"
    " ON CONFLICT (child_id) DO UPDATE SET state=excluded.state, venue_order_id=excluded.venue_order_id,"
    " filled=excluded.filled, cum_quote=excluded.cum_quote, reason=excluded.reason, sent=excluded.sent,"
    " last_seq=excluded.last_seq, updated_ns=excluded.updated_ns,"
    " qty=excluded.qty, price=excluded.price")
_INSERT_FILLS = (
    f"INSERT INTO fills ({rows.FILL_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[], $9::numeric[], $10::text[], $11::bool[],"
    " $12::bigint[], $13::bigint[]) ON CONFLICT (fill_id) DO NOTHING RETURNING fill_id")
_INSERT_ALGO_FILLS = (
    "INSERT INTO algo_fills (fill_id, client, algo, order_id, venue, symbol, side, price, qty, fee, fee_asset, maker,"
    " exchange_ts, booked_ns) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[], $11::text[], $12::bool[],"
    " $13::bigint[], $14::bigint[]) ON CONFLICT (fill_id) DO NOTHING RETURNING fill_id")
_INSERT_REMOTE = ("INSERT INTO remote_children (child_id, origin, venue, created_ns, client)"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (child_id) DO NOTHING")
_FINISH_REMOTE = "UPDATE remote_children SET final_ns = $2 WHERE child_id = $1 AND final_ns IS NULL"
_UPSERT_FORWARDED = ("INSERT INTO forwarded_credentials (credential_id, origin, client, venue, created_ns)"
                     " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO UPDATE SET origin = excluded.origin,"
                     " client = excluded.client, venue = excluded.venue")
_DELETE_FORWARDED = "DELETE FROM forwarded_credentials WHERE credential_id = $1"
_UPSERT_CURSOR = ("INSERT INTO edge_cursors (venue, last_seq) VALUES ($1, $2) ON CONFLICT (venue)"
                  " DO UPDATE SET last_seq = GREATEST(edge_cursors.last_seq, excluded.last_seq)")
_UPSERT_FLAG = "INSERT INTO flags (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
_UPSERT_CLIENT = (f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT"
                  " (client_id) DO UPDATE SET role = excluded.role, requests_per_s = excluded.requests_per_s,"
                  " revoked_ns = excluded.revoked_ns")
_INSERT_SAMPLE = f"INSERT INTO market_samples ({rows.SAMPLE_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6)"
_INSERT_EVENT = "INSERT INTO events (ts, kind, ref, body) VALUES ($1, $2, $3, $4)"


@dataclass
class _Block:
    """Writes kept or dropped together; `task` is the writer whose `durable()` hears of a conflict."""

    ops: list[tuple[int, Any, tuple[Any, ...]]]  # (op, key, args)
    task: asyncio.Task[Any] | None


@dataclass
class _Unit:
    blocks: list[_Block] = field(default_factory=list)
    waiters: list[tuple[asyncio.Future[None], asyncio.Task[Any] | None]] = field(default_factory=list)


class PostgresLedgerStore:
    def __init__(self, dsn: str, durability: str, conn: asyncpg.Connection, pool: asyncpg.Pool,
                 version: int, algo_fill_window: int) -> None:
        self._dsn = dsn
        self._settings = {"synchronous_commit": SYNCHRONOUS_COMMIT[durability]}
        self._conn: asyncpg.Connection | None = conn
        self._pool = pool
        self.version = version
        self._fills = FillIds(algo_fill_window)
        self._unit = _Unit()
        self._inflight: _Unit | None = None
        self._block: _Block | None = None
        self._committer: asyncio.Task[None] | None = None
        self._kick_scheduled = False
        self._later = EarliestCall(self._kick)  # an idle or delayed commit
        self.late_duplicates = 0
        self.commits = 0

    @classmethod
    async def open(cls, dsn: str, durability: str = "power-loss",
                   algo_fill_window: int = ALGO_FILL_WINDOW) -> PostgresLedgerStore:
        if durability not in SYNCHRONOUS_COMMIT:
            raise ValueError(f"durability must be one of {', '.join(SYNCHRONOUS_COMMIT)}, got {durability!r}")
        settings = {"synchronous_commit": SYNCHRONOUS_COMMIT[durability]}
        conn = await asyncpg.connect(dsn, server_settings=settings)
        try:
            version = await migrate(conn)
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        except BaseException:
            await conn.close()
            raise
        store = cls(dsn, durability, conn, pool, version, algo_fill_window)
        try:
            recent = await pool.fetch("SELECT fill_id FROM algo_fills ORDER BY seq DESC LIMIT $1", algo_fill_window)
        except BaseException:
            await store.close()
            raise
        store._fills.remember_algo(reversed([r[0] for r in recent]))
        return store

    # -- the unit of work --------------------------------------------------------------------

    def _op(self, op: int, key: Any, args: tuple[Any, ...]) -> None:
        if self._block is not None:
            self._block.ops.append((op, key, args))
        else:
            self._append(_Block([(op, key, args)], asyncio.current_task()))

    def _append(self, block: _Block) -> None:
        if not self._unit.blocks:
            self._later.within(IDLE_COMMIT_S)  # nobody commits it: the store does, soon
        self._unit.blocks.append(block)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        outer = self._block is None
        if outer:
            self._block = _Block([], asyncio.current_task())
        self._fills.begin_block()
        kept = False
        try:
            yield
            kept = True
        finally:
            self._fills.end_block(kept)
            if outer:
                block, self._block = self._block, None
                if kept and block is not None and block.ops:
                    self._append(block)

    async def durable(self) -> None:
        """Wait for the commit in flight (it may hold earlier writes of ours) and for the open unit."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        futures = []
        for unit in (self._inflight, self._unit if self._unit.blocks else None):
            if unit is not None:
                fut: asyncio.Future[None] = loop.create_future()
                unit.waiters.append((fut, task))
                futures.append(fut)
        if self._unit.blocks:
            self._kick()
        for fut in futures:
            await fut

    def commit_soon(self, delay_s: float = 0.0) -> None:
        if not self._unit.blocks:
            return
        if delay_s <= 0:
            self._kick()
        else:
            self._later.within(delay_s)

    def _kick(self) -> None:
        """A commit in the next loop turn (one, however many ask): writers of this turn share it."""
        if not self._kick_scheduled:
            self._kick_scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._kick_scheduled = False
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit_pending())
        # else: the running committer takes the open unit when its commit ends

    async def _commit_pending(self) -> None:
        while self._unit.blocks or self._unit.waiters:
            unit, self._unit = self._unit, _Unit()
            self._later.cancel()
            self._inflight = unit
            try:
                conflicts = await self._commit(unit)
            except Exception as exc:
                log.error("ledger commit of %d blocks failed: %r; dropped", len(unit.blocks), exc)
                await self._drop_connection()
                for fut, _ in unit.waiters:
                    if not fut.done():
                        fut.set_exception(StoreUnavailable(f"the ledger could not commit: {exc!r}"))
                continue
            finally:
                self._inflight = None
            self.commits += 1
            for fut, task in unit.waiters:
                if fut.done():
                    continue
                if task is not None and task in conflicts:
                    fut.set_exception(StoreConflict(conflicts[task]))
                else:
                    fut.set_result(None)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, server_settings=self._settings)
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _commit(self, unit: _Unit) -> dict[asyncio.Task[Any], str]:
        """Commit the unit; returns the writers whose blocks broke a constraint (dropped), with why."""
        conn = await self._connection()
        if not unit.blocks:
            return {}
        try:
            async with conn.transaction():
                duplicates = await self._write(conn, unit.blocks)
            self._count_late(duplicates)
            return {}
        except asyncpg.IntegrityConstraintViolationError:
            pass  # find the blocks that break it: each in a savepoint
        conflicts: dict[asyncio.Task[Any], str] = {}
        duplicates = set()
        async with conn.transaction():
            for block in unit.blocks:
                try:
                    async with conn.transaction():
                        duplicates |= await self._write(conn, [block])
                except asyncpg.IntegrityConstraintViolationError as exc:
                    what = f"{exc.__class__.__name__}: {exc}"
                    log.warning("ledger: dropped a block of %d writes: %s", len(block.ops), what)
                    if block.task is not None:
                        conflicts[block.task] = what
        self._count_late(duplicates)
        return conflicts

    def _count_late(self, duplicates: set[str]) -> None:
        """Fills the database refused as booked already, beyond what memory knew."""
        if duplicates:
            self.late_duplicates += len(duplicates)
            log.warning("ledger: %d fills were booked already: %s", len(duplicates), sorted(duplicates)[:5])

    async def _write(self, conn: asyncpg.Connection, blocks: list[_Block]) -> set[str]:
        """The blocks' ops, coalesced per row and sent one statement per table, parents first;
        returns the fill ids the database already had (their rows and events are not written)."""
        by_key: list[dict[Any, tuple[Any, ...]]] = [{} for _ in range(EVENT + 1)]
        appended: list[list[tuple[Any, ...]]] = [[] for _ in range(EVENT + 1)]
        for block in blocks:
            for op, key, args in block.ops:
                if key is None:
                    appended[op].append(args)
                elif op == CURSOR:
                    old = by_key[op].get(key)
                    by_key[op][key] = args if old is None or args[1] > old[1] else old
                else:
                    by_key[op][key] = args  # the last save of a row wins
        for op, sql in ((PARENT, _UPSERT_PARENT), (CHILD, _UPSERT_CHILD), (REMOTE, _INSERT_REMOTE),
                        (REMOTE_FINAL, _FINISH_REMOTE),
                        (CURSOR, _UPSERT_CURSOR), (FLAG, _UPSERT_FLAG), (CLIENT, _UPSERT_CLIENT)):
            if by_key[op]:
                await conn.executemany(sql, list(by_key[op].values()))
        # a forwarded credential's last write in the unit: its row (installed) or its id alone (removed)
        forwarded = list(by_key[FORWARDED].values())
        for sql, written in ((_UPSERT_FORWARDED, [a for a in forwarded if len(a) > 1]),
                             (_DELETE_FORWARDED, [a for a in forwarded if len(a) == 1])):
            if written:
                await conn.executemany(sql, written)
        duplicates: set[str] = set()
        for op, sql in ((FILL, _INSERT_FILLS), (ALGO_FILL, _INSERT_ALGO_FILLS)):
            if appended[op]:
                booked = {r[0] for r in await conn.fetch(sql, *zip(*appended[op], strict=True))}
                duplicates.update(a[0] for a in appended[op] if a[0] not in booked)
        if appended[SAMPLE]:
            await conn.executemany(_INSERT_SAMPLE, appended[SAMPLE])
        events = [a[:4] for a in appended[EVENT] if a[4] not in duplicates]
        if events:
            await conn.executemany(_INSERT_EVENT, events)
        return duplicates

    def release(self, order_ids: Collection[str]) -> None:
        self._fills.release(order_ids)

    # -- writes ------------------------------------------------------------------------------

    def _event(self, kind: str, ref: str, body: dict[str, Any], fill_id: str | None = None) -> None:
        self._op(EVENT, None, (time.time_ns(), kind, ref, _json(body), fill_id))

    def save_parent(self, p: Parent, kind: str = "parent") -> None:
        with self.atomic():
            self._op(PARENT, p.order_id, (
                p.order_id, p.client, p.client_order_id or None, p.symbol, p.side.value, p.type.value, p.qty,
                p.price, p.state.value, p.reason, p.cancel_requested, p.reroutes, _json(p.decision), p.created_ns,
                p.updated_ns))
            self._event(kind, p.order_id, {"state": p.state.value, "reason": p.reason})
        self._fills.saved(p)

    def save_child(self, c: Child, kind: str = "child") -> None:
        with self.atomic():
            self._op(CHILD, c.child_id, (
                c.child_id, c.parent_id, c.venue, c.qty, c.price, c.type.value, c.state, c.venue_order_id, c.filled,
                c.cum_quote, c.reason, c.sent, c.last_seq, c.created_ns, c.updated_ns))
            self._event(kind, c.child_id, {"parent": c.parent_id, "venue": c.venue, "state": c.state,
                                           "filled": str(c.filled)})

    def add_fill(self, f: Fill) -> bool:
        if not self._fills.add(f.parent_id, f.fill_id):
            return False
        with self.atomic():
            self._op(FILL, None, (f.fill_id, f.child_id, f.parent_id, f.venue, f.symbol, f.side.value, f.price,
                                  f.qty, f.fee, f.fee_asset, f.maker, f.exchange_ts, f.booked_ns))
            self._event("fill", f.parent_id, {"fill_id": f.fill_id, "venue": f.venue, "qty": str(f.qty),
                                              "price": str(f.price)}, f.fill_id)
        return True

    def add_algo_fill(self, client: str, algo: str, f: Fill) -> bool:
        if not self._fills.add_algo(f.fill_id):
            return False
        with self.atomic():
            self._op(ALGO_FILL, None, (f.fill_id, client, algo, f.child_id, f.venue, f.symbol, f.side.value,
                                       f.price, f.qty, f.fee, f.fee_asset, f.maker, f.exchange_ts, f.booked_ns))
            self._event("algo_fill", algo, {"fill_id": f.fill_id, "client": client, "venue": f.venue,
                                            "qty": str(f.qty), "price": str(f.price)}, f.fill_id)
        return True

    def add_remote_child(self, child_id: str, origin: str, venue: str, client: str = "") -> None:
        self._op(REMOTE, child_id, (child_id, origin, venue, time.time_ns(), client))

    def finish_remote_child(self, child_id: str) -> None:
        self._op(REMOTE_FINAL, child_id, (child_id, time.time_ns()))

    def add_forwarded_credential(self, credential_id: str, origin: str, client: str, venue: str) -> None:
        with self.atomic():
            self._op(FORWARDED, credential_id, (credential_id, origin, client, venue, time.time_ns()))
            self._event("forwarded_credential", credential_id, {"origin": origin, "client": client, "venue": venue})

    def remove_forwarded_credential(self, credential_id: str) -> None:
        with self.atomic():
            self._op(FORWARDED, credential_id, (credential_id,))
            self._event("forwarded_credential_removed", credential_id, {})

    def set_cursor(self, venue: str, seq: int) -> None:
        self._op(CURSOR, venue, (venue, seq))

    def set_flag(self, name: str, value: str) -> None:
        with self.atomic():
            self._op(FLAG, name, (name, value))
            self._event("flag", name, {"value": value})

    def save_client(self, c: ClientRecord) -> None:
        with self.atomic():
            self._op(CLIENT, c.client_id, rows.client_row(c))
            self._event("client", c.client_id, {"role": c.role.value, "revoked_ns": c.revoked_ns})

    def add_market_samples(self, samples: Collection[MarketSample]) -> None:
        with self.atomic():
            for m in samples:
                self._op(SAMPLE, None, (m.ts_ns, m.venue, m.symbol, m.kind, m.price, m.qty))

    # -- reads -------------------------------------------------------------------------------

    async def _read(self, op: Callable[[Pooled], Awaitable[T]]) -> T:
        """Run `op` on a pooled connection; once more on a fresh one if the first had died (a
        server restart closes them all); StoreUnavailable if the server cannot be reached."""
        for attempt in (1, 2):
            try:
                async with self._pool.acquire() as c:
                    return await op(c)
            except Exception as exc:
                if not _unavailable(exc):
                    raise
                if attempt == 2:
                    raise StoreUnavailable(f"the ledger could not be read: {exc!r}") from exc
        raise AssertionError("unreachable")

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._read(lambda c: c.fetch(sql, *args))

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self._read(lambda c: c.fetchval(sql, *args))

    async def _load(self, where: str, *args: Any) -> dict[str, Parent]:
        """The parents matching `where`, oldest first, with their children and fills (and held),
        read in one snapshot so a commit in between cannot split a parent from its children."""
        async def load(c: Pooled) -> tuple[list[asyncpg.Record], ...]:
            async with c.transaction(isolation="repeatable_read", readonly=True):
                found = await c.fetch(f"SELECT {rows.PARENT_COLUMNS} FROM parents WHERE {where}"
                                      " ORDER BY created_ns", *args)
                ids = [r[0] for r in found]
                if not ids:
                    return found, [], []
                children = await c.fetch(f"SELECT {rows.CHILD_COLUMNS} FROM children"
                                         " WHERE parent_id = ANY($1::text[]) ORDER BY created_ns, child_id", ids)
                fills = await c.fetch(f"SELECT {rows.FILL_COLUMNS} FROM fills WHERE parent_id = ANY($1::text[])"
                                      " ORDER BY seq", ids)
                return found, children, fills

        parents = rows.assemble(*await self._read(load))
        self._fills.hold_all(parents.values())
        return parents

    async def live_parents(self, final: Collection[ParentState]) -> dict[str, Parent]:
        return await self._load("NOT (state = ANY($1::text[]))", [s.value for s in final])

    async def parent(self, order_id: str) -> Parent | None:
        return (await self._load("order_id = $1", order_id)).get(order_id)

    async def parents(self, order_ids: Collection[str]) -> dict[str, Parent]:
        return await self._load("order_id = ANY($1::text[])", list(order_ids)) if order_ids else {}

    async def parent_by_client_id(self, client: str, client_order_id: str) -> Parent | None:
        found = await self._load("client = $1 AND client_order_id = $2", client, client_order_id)
        return next(iter(found.values()), None)

    async def parent_id_of_child(self, child_id: str) -> str | None:
        value = await self._fetchval("SELECT parent_id FROM children WHERE child_id = $1", child_id)
        return None if value is None else str(value)

    async def client_order_ids(self, client: str, symbol: str | None = None, state: str | None = None,
                               limit: int = 500) -> list[str]:
        where, args = ["client = $1"], [client]
        if symbol:
            args.append(symbol)
            where.append(f"symbol = ${len(args)}")
        if state:
            args.append(state)
            where.append(f"state = ${len(args)}")
        found = await self._fetch(f"SELECT order_id FROM parents WHERE {' AND '.join(where)}"
                                  f" ORDER BY created_ns DESC LIMIT ${len(args) + 1}", *args, limit)
        return [r[0] for r in reversed(found)]

    async def client_fills(self) -> AsyncIterator[tuple[str, Fill]]:
        try:
            async with self._pool.acquire() as c, c.transaction(readonly=True):
                async for r in c.cursor(
                    "SELECT p.client, f.fill_id, f.child_id, f.parent_id, f.venue, f.symbol, f.side, f.price, f.qty,"
                    " f.fee, f.fee_asset, f.maker, f.exchange_ts, f.booked_ns FROM fills f"
                    " JOIN parents p ON p.order_id = f.parent_id ORDER BY f.seq", prefetch=1000,
                ):
                    yield r[0], rows.fill(r[1:])
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"the ledger could not be read: {exc!r}") from exc
            raise

    async def algo_fills(self) -> list[tuple[str, Fill]]:
        return [rows.algo_fill(r) for r in
                await self._fetch(f"SELECT {rows.ALGO_FILL_COLUMNS} FROM algo_fills ORDER BY seq")]

    async def client_fill_page(self, client: str, after: int, limit: int, symbol: str | None = None,
                               order_id: str | None = None) -> list[tuple[int, Fill]]:
        where, args = ["p.client = $1", "f.seq > $2"], [client, after]
        for column, value in (("f.symbol", symbol), ("f.parent_id", order_id)):
            if value:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        found = await self._fetch(
            f"SELECT f.seq, {', '.join('f.' + c.strip() for c in rows.FILL_COLUMNS.split(','))} FROM fills f"
            f" JOIN parents p ON p.order_id = f.parent_id WHERE {' AND '.join(where)} ORDER BY f.seq"
            f" LIMIT ${len(args) + 1}", *args, limit)
        return [(r[0], rows.fill(r[1:])) for r in found]

    async def remote_children(self) -> dict[str, tuple[str, str]]:
        found = await self._fetch("SELECT child_id, origin, venue FROM remote_children WHERE final_ns IS NULL")
        return {r[0]: (r[1], r[2]) for r in found}

    async def remote_child_clients(self) -> dict[str, str]:
        found = await self._fetch("SELECT child_id, client FROM remote_children WHERE final_ns IS NULL")
        return {r[0]: r[1] for r in found}

    async def remote_child(self, child_id: str) -> tuple[str, str] | None:
        found = await self._fetch("SELECT origin, venue FROM remote_children WHERE child_id = $1", child_id)
        return (found[0][0], found[0][1]) if found else None

    async def forwarded_credentials(self) -> dict[str, tuple[str, str, str]]:
        found = await self._fetch("SELECT credential_id, origin, client, venue FROM forwarded_credentials")
        return {r[0]: (r[1], r[2], r[3]) for r in found}

    async def child_venues(self) -> set[str]:
        return {r[0] for r in await self._fetch("SELECT DISTINCT venue FROM children")}

    async def cursor(self, venue: str) -> int:
        value = await self._fetchval("SELECT last_seq FROM edge_cursors WHERE venue = $1", venue)
        return 0 if value is None else int(value)

    async def flag(self, name: str) -> str | None:
        value = await self._fetchval("SELECT value FROM flags WHERE name = $1", name)
        return None if value is None else str(value)

    async def clients(self) -> list[ClientRecord]:
        return [rows.client(r) for r in await self._fetch(f"SELECT {rows.CLIENT_COLUMNS} FROM clients"
                                                          " ORDER BY client_id")]

    async def has_fill(self, fill_id: str) -> bool:
        return await self._fetchval("SELECT 1 FROM fills WHERE fill_id = $1", fill_id) is not None

    async def events(self, ref: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT seq, ts, kind, ref, body FROM events" + (" WHERE ref = $1" if ref else "") + " ORDER BY seq"
        return [rows.event(r) for r in await self._fetch(q, *((ref,) if ref else ()))]

    async def market_samples(self, symbol: str, start_ns: int, end_ns: int,
                             kind: str | None = None) -> list[MarketSample]:
        q = (f"SELECT {rows.SAMPLE_COLUMNS} FROM market_samples WHERE symbol = $1 AND ts_ns BETWEEN $2 AND $3"
             + (" AND kind = $4" if kind else "") + " ORDER BY ts_ns")
        return [rows.sample(r) for r in await self._fetch(q, symbol, start_ns, end_ns, *((kind,) if kind else ()))]

    async def put_credential(self, c: StoredCredential) -> None:
        async def put(conn: Pooled) -> None:
            async with conn.transaction():
                await conn.execute(
                    f"INSERT INTO credentials ({rows.CREDENTIAL_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                    " ON CONFLICT (credential_id) DO UPDATE SET permissions = excluded.permissions,"
                    " wrap_key_id = excluded.wrap_key_id, wrapped_key = excluded.wrapped_key", *rows.credential_row(c))
                await conn.execute(_INSERT_EVENT, time.time_ns(), "credential", c.credential_id, _json(
                    {"client": c.client, "venue": c.venue, "wrap_key_id": c.wrap_key_id}))

        try:
            await self._read(put)
        except asyncpg.UniqueViolationError as exc:
            raise StoreConflict(f"credential {c.credential_id}: {exc}") from exc

    async def delete_credential(self, credential_id: str) -> None:
        async def delete(conn: Pooled) -> None:
            async with conn.transaction():
                await conn.execute("DELETE FROM credentials WHERE credential_id = $1", credential_id)
                await conn.execute(_INSERT_EVENT, time.time_ns(), "credential_deleted", credential_id, "{}")

        await self._read(delete)

    async def credentials(self) -> list[StoredCredential]:
        return [rows.credential(r) for r in await self._fetch(
            f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_ns, credential_id")]

    async def schema_version(self) -> int:
        return int(await self._fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def close(self) -> None:
        if self._unit.blocks:
            with contextlib.suppress(StoreConflict, StoreUnavailable):
                await self.durable()
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        self._later.cancel()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        await self._pool.close()

