"""The ledger in SQLite: the embedded default (WAL; fsync per commit unless durability is
"process-crash"). Built on `runtime.store.sqlite.SqliteStore`, whose group transaction is
the unit of work: writes execute at once inside it (a constraint breaks at the write), and
one COMMIT per loop turn makes them durable, as before this interface existed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Collection, Iterator
from pathlib import Path
from typing import Any

import orjson
from seqmesh.runtime.cc.domain import Child, ClientRecord, Fill, Parent, ParentState
from seqmesh.runtime.store.sqlite import SqliteStore

from . import rows
from .fillids import FillIds
from .ports import ALGO_FILL_WINDOW, IDLE_COMMIT_S, MarketSample, StoreConflict, StoredCredential, StoreUnavailable
from .schema import VERSION_TABLE, Migration, migrations

# The order path's statements, built once.
_UPSERT_PARENT = (
    f"INSERT INTO parents ({rows.PARENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(order_id) DO UPDATE SET state=excluded.state, reason=excluded.reason,"
    " cancel_requested=excluded.cancel_requested, reroutes=excluded.reroutes,"
    " decision=excluded.decision, updated_ns=excluded.updated_ns,"
    " qty=excluded.qty, price=excluded.price")
_UPSERT_CHILD = (
    f"INSERT INTO children ({rows.CHILD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(child_id) DO UPDATE SET state=excluded.state, venue_order_id=excluded.venue_order_id,"
    " filled=excluded.filled, cum_quote=excluded.cum_quote, reason=excluded.reason,"
    " sent=excluded.sent, last_seq=excluded.last_seq, updated_ns=excluded.updated_ns,"
    " qty=excluded.qty, price=excluded.price")
_INSERT_FILL = (
    f"INSERT OR IGNORE INTO fills ({rows.FILL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")

_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's limit on bound parameters


def _chunks(ids: list[str]) -> Iterator[tuple[list[str], str]]:
    """`ids` in slices for `IN (...)`, each with its placeholders."""
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i:i + _IN_CHUNK]
        yield chunk, ",".join("?" * len(chunk))


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def migrate(db: sqlite3.Connection, known: list[Migration] | None = None) -> int:
    """Apply the migrations (`known`: the package's) this ledger lacks, each in its own
    transaction; returns the version."""
    db.execute(VERSION_TABLE)
    current = int(db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
    known = migrations("sqlite") if known is None else known
    if current > len(known):
        raise RuntimeError(f"the ledger's schema is at version {current}, newer than this seqmesh knows "
                           f"({len(known)}): run the newer version")
    if current == 0:
        _adopt_pre_last_seq(db)
    for m in known[current:]:
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{m.sql}\nINSERT INTO schema_version (version, name, applied_ns)"
                             f" VALUES ({m.version}, '{m.name}', {time.time_ns()});\nCOMMIT;")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        current = m.version
    return current


def _adopt_pre_last_seq(db: sqlite3.Connection) -> None:
    """Ledgers written before children kept their last edge event lack `children.last_seq`
    (0001 only creates what is missing, it cannot add a column): add it, as the old Ledger did."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(children)")}
    if columns and "last_seq" not in columns:
        db.execute("ALTER TABLE children ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0")


class SqliteLedgerStore:
    def __init__(self, path: Path, durability: str = "power-loss", algo_fill_window: int = ALGO_FILL_WINDOW) -> None:
        self._s = SqliteStore(path, VERSION_TABLE + ";", durability)
        self.db = self._s.db
        self.version = migrate(self.db)
        self._fills = FillIds(algo_fill_window)
        recent = self.db.execute("SELECT fill_id FROM algo_fills ORDER BY rowid DESC LIMIT ?", (algo_fill_window,))
        self._fills.remember_algo(reversed([r[0] for r in recent]))
        self.late_duplicates = 0
        self._groups = self._groups_at_tick = 0  # group transactions opened (to tell an idle one)
        self._idle: asyncio.TimerHandle | None = None

    @property
    def commits(self) -> int:
        return self._s.commits

    # -- the unit of work --------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._s.group_open:
            self._s.begin_group()
            self._groups += 1
            if self._idle is None:
                self._idle = asyncio.get_running_loop().call_later(IDLE_COMMIT_S, self._idle_tick)

    def _idle_tick(self) -> None:
        """Every IDLE_COMMIT_S while groups open: commit one that stayed open a whole tick (nobody
        asked). One timer for all units, not one per unit: the order path pays nothing for it."""
        if self._s.group_open and self._groups == self._groups_at_tick:
            self._s.commit_soon()
        self._groups_at_tick = self._groups
        self._idle = (asyncio.get_running_loop().call_later(IDLE_COMMIT_S, self._idle_tick) if self._s.group_open
                      else None)

    def atomic(self) -> _Atomic:
        return _Atomic(self)

    async def durable(self) -> None:
        try:
            await self._s.durable()
        except sqlite3.Error as exc:  # the COMMIT failed (a full or failing disk)
            raise StoreUnavailable(f"the ledger could not commit: {exc!r}") from exc

    def commit_soon(self, delay_s: float = 0.0) -> None:
        self._s.commit_soon(delay_s)

    def release(self, order_ids: Collection[str]) -> None:
        self._fills.release(order_ids)

    # -- writes ------------------------------------------------------------------------------

    def _event(self, kind: str, ref: str, body: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO events (ts, kind, ref, body) VALUES (?, ?, ?, ?)",
                        (time.time_ns(), kind, ref, _json(body)))

    def save_parent(self, p: Parent, kind: str = "parent") -> None:
        self._begin()
        try:
            with self._s:
                self.db.execute(
                    _UPSERT_PARENT,
                    (p.order_id, p.client, p.client_order_id or None, p.symbol, p.side.value, p.type.value,
                     str(p.qty), None if p.price is None else str(p.price), p.state.value, p.reason,
                     int(p.cancel_requested), p.reroutes, _json(p.decision), p.created_ns, p.updated_ns),
                )
                self._event(kind, p.order_id, {"state": p.state.value, "reason": p.reason})
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(f"order {p.order_id}: {exc}") from exc
        self._fills.saved(p)

    def save_child(self, c: Child, kind: str = "child") -> None:
        self._begin()
        try:
            with self._s:
                self.db.execute(
                    _UPSERT_CHILD,
                    (c.child_id, c.parent_id, c.venue, str(c.qty), None if c.price is None else str(c.price),
                     c.type.value, c.state, c.venue_order_id, str(c.filled), str(c.cum_quote), c.reason,
                     int(c.sent), c.last_seq, c.created_ns, c.updated_ns),
                )
                self._event(kind, c.child_id, {"parent": c.parent_id, "venue": c.venue, "state": c.state,
                                               "filled": str(c.filled)})
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(f"child {c.child_id}: {exc}") from exc

    def add_fill(self, f: Fill) -> bool:
        if not self._fills.add(f.parent_id, f.fill_id):
            return False
        self._begin()
        with self._s:
            cur = self.db.execute(
                _INSERT_FILL,
                (f.fill_id, f.child_id, f.parent_id, f.venue, f.symbol, f.side.value, str(f.price), str(f.qty),
                 str(f.fee), f.fee_asset, int(f.maker), f.exchange_ts, f.booked_ns),
            )
            if cur.rowcount == 0:  # booked before under another parent id: the database knows
                self.late_duplicates += 1
                return False
            self._event("fill", f.parent_id, {"fill_id": f.fill_id, "venue": f.venue, "qty": str(f.qty),
                                              "price": str(f.price)})
        return True

    def add_algo_fill(self, client: str, algo: str, f: Fill) -> bool:
        if not self._fills.add_algo(f.fill_id):
            return False
        self._begin()
        with self._s:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO algo_fills (fill_id, client, algo, order_id, venue, symbol, side, price, qty,"
                " fee, fee_asset, maker, exchange_ts, booked_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.fill_id, client, algo, f.child_id, f.venue, f.symbol, f.side.value, str(f.price), str(f.qty),
                 str(f.fee), f.fee_asset, int(f.maker), f.exchange_ts, f.booked_ns))
            if cur.rowcount == 0:  # older than the window: the database knows
                self.late_duplicates += 1
                return False
            self._event("algo_fill", algo, {"fill_id": f.fill_id, "client": client, "venue": f.venue,
                                            "qty": str(f.qty), "price": str(f.price)})
        return True

    def add_remote_child(self, child_id: str, origin: str, venue: str, client: str = "") -> None:
        self._begin()
        self.db.execute("INSERT OR IGNORE INTO remote_children (child_id, origin, venue, created_ns, client)"
                        " VALUES (?, ?, ?, ?, ?)", (child_id, origin, venue, time.time_ns(), client))

    def finish_remote_child(self, child_id: str) -> None:
        self._begin()
        self.db.execute("UPDATE remote_children SET final_ns = ? WHERE child_id = ? AND final_ns IS NULL",
                        (time.time_ns(), child_id))

    def add_forwarded_credential(self, credential_id: str, origin: str, client: str, venue: str) -> None:
        self._begin()
        with self._s:
            self.db.execute("INSERT INTO forwarded_credentials (credential_id, origin, client, venue, created_ns)"
                            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(credential_id) DO UPDATE SET origin = excluded.origin,"
                            " client = excluded.client, venue = excluded.venue",
                            (credential_id, origin, client, venue, time.time_ns()))
            self._event("forwarded_credential", credential_id, {"origin": origin, "client": client, "venue": venue})

    def remove_forwarded_credential(self, credential_id: str) -> None:
        self._begin()
        with self._s:
            self.db.execute("DELETE FROM forwarded_credentials WHERE credential_id = ?", (credential_id,))
            self._event("forwarded_credential_removed", credential_id, {})

    def set_cursor(self, venue: str, seq: int) -> None:
        self._begin()
        # Never backwards: a replay from a peer may deliver older events after newer ones.
        self.db.execute("INSERT INTO edge_cursors (venue, last_seq) VALUES (?, ?) ON CONFLICT(venue)"
                        " DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)", (venue, seq))

    def set_flag(self, name: str, value: str) -> None:
        self._begin()
        with self._s:
            self.db.execute("INSERT INTO flags (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
                            " SET value = excluded.value", (name, value))
            self._event("flag", name, {"value": value})

    def save_client(self, c: ClientRecord) -> None:
        self._begin()
        with self._s:
            self.db.execute(f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) VALUES (?,?,?,?,?,?) ON CONFLICT(client_id)"
                            " DO UPDATE SET role = excluded.role, requests_per_s = excluded.requests_per_s,"
                            " revoked_ns = excluded.revoked_ns", rows.client_row(c))
            self._event("client", c.client_id, {"role": c.role.value, "revoked_ns": c.revoked_ns})

    def add_market_samples(self, samples: Collection[MarketSample]) -> None:
        self._begin()
        self.db.executemany(f"INSERT INTO market_samples ({rows.SAMPLE_COLUMNS}) VALUES (?,?,?,?,?,?)",
                            [(m.ts_ns, m.venue, m.symbol, m.kind, str(m.price), str(m.qty)) for m in samples])

    # -- reads -------------------------------------------------------------------------------

    def _load(self, where: str, args: tuple[Any, ...] = ()) -> dict[str, Parent]:
        """The parents matching `where`, oldest first, with their children and fills (and held)."""
        found = self.db.execute(f"SELECT {rows.PARENT_COLUMNS} FROM parents WHERE {where} ORDER BY created_ns",
                                args).fetchall()
        children: list[Any] = []
        fills: list[Any] = []
        for chunk, marks in _chunks([r[0] for r in found]):
            children += self.db.execute(f"SELECT {rows.CHILD_COLUMNS} FROM children WHERE parent_id IN ({marks})"
                                        " ORDER BY created_ns, child_id", chunk).fetchall()
            fills += self.db.execute(f"SELECT {rows.FILL_COLUMNS} FROM fills WHERE parent_id IN ({marks})"
                                     " ORDER BY rowid", chunk).fetchall()
        parents = rows.assemble(found, children, fills)
        self._fills.hold_all(parents.values())
        return parents

    async def live_parents(self, final: Collection[ParentState]) -> dict[str, Parent]:
        return self._load(f"state NOT IN ({','.join('?' * len(final))})", tuple(s.value for s in final))

    async def parent(self, order_id: str) -> Parent | None:
        return self._load("order_id = ?", (order_id,)).get(order_id)

    async def parents(self, order_ids: Collection[str]) -> dict[str, Parent]:
        out: dict[str, Parent] = {}
        for chunk, marks in _chunks(list(order_ids)):
            out.update(self._load(f"order_id IN ({marks})", tuple(chunk)))
        return out

    async def parent_by_client_id(self, client: str, client_order_id: str) -> Parent | None:
        found = self._load("client = ? AND client_order_id = ?", (client, client_order_id))
        return next(iter(found.values()), None)

    async def parent_id_of_child(self, child_id: str) -> str | None:
        row = self.db.execute("SELECT parent_id FROM children WHERE child_id = ?", (child_id,)).fetchone()
        return None if row is None else str(row[0])

    async def client_order_ids(self, client: str, symbol: str | None = None, state: str | None = None,
                               limit: int = 500) -> list[str]:
        where, args = ["client = ?"], [client]
        if symbol:
            where.append("symbol = ?")
            args.append(symbol)
        if state:
            where.append("state = ?")
            args.append(state)
        found = self.db.execute(f"SELECT order_id FROM parents WHERE {' AND '.join(where)}"
                                " ORDER BY created_ns DESC LIMIT ?", (*args, limit)).fetchall()
        return [r[0] for r in reversed(found)]

    async def client_fills(self) -> AsyncIterator[tuple[str, Fill]]:
        cur = self.db.execute(
            "SELECT p.client, f.fill_id, f.child_id, f.parent_id, f.venue, f.symbol, f.side, f.price, f.qty, f.fee,"
            " f.fee_asset, f.maker, f.exchange_ts, f.booked_ns FROM fills f JOIN parents p ON p.order_id = f.parent_id"
            " ORDER BY f.rowid")
        while batch := cur.fetchmany(1000):
            for r in batch:
                yield r[0], rows.fill(r[1:])

    async def algo_fills(self) -> list[tuple[str, Fill]]:
        return [rows.algo_fill(r) for r in
                self.db.execute(f"SELECT {rows.ALGO_FILL_COLUMNS} FROM algo_fills ORDER BY rowid")]

    async def client_fill_page(self, client: str, after: int, limit: int, symbol: str | None = None,
                               order_id: str | None = None) -> list[tuple[int, Fill]]:
        where, args = ["p.client = ?", "f.rowid > ?"], [client, after]
        for column, value in (("f.symbol", symbol), ("f.parent_id", order_id)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        cur = self.db.execute(
            f"SELECT f.rowid, {', '.join('f.' + c.strip() for c in rows.FILL_COLUMNS.split(','))} FROM fills f"
            f" JOIN parents p ON p.order_id = f.parent_id WHERE {' AND '.join(where)} ORDER BY f.rowid LIMIT ?",
            (*args, limit))
        return [(r[0], rows.fill(r[1:])) for r in cur]

    async def remote_children(self) -> dict[str, tuple[str, str]]:
        return {r[0]: (r[1], r[2]) for r in self.db.execute(
            "SELECT child_id, origin, venue FROM remote_children WHERE final_ns IS NULL")}

    async def remote_child_clients(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT child_id, client FROM remote_children WHERE final_ns IS NULL")}

    async def remote_child(self, child_id: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT origin, venue FROM remote_children WHERE child_id = ?", (child_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    async def forwarded_credentials(self) -> dict[str, tuple[str, str, str]]:
        return {r[0]: (r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT credential_id, origin, client, venue FROM forwarded_credentials")}

    async def child_venues(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT DISTINCT venue FROM children")}

    async def cursor(self, venue: str) -> int:
        row = self.db.execute("SELECT last_seq FROM edge_cursors WHERE venue = ?", (venue,)).fetchone()
        return int(row[0]) if row else 0

    async def flag(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM flags WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    async def clients(self) -> list[ClientRecord]:
        return [rows.client(r) for r in self.db.execute(f"SELECT {rows.CLIENT_COLUMNS} FROM clients"
                                                        " ORDER BY client_id")]

    async def has_fill(self, fill_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    async def events(self, ref: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT seq, ts, kind, ref, body FROM events" + (" WHERE ref = ?" if ref else "") + " ORDER BY seq"
        return [rows.event(r) for r in self.db.execute(q, (ref,) if ref else ())]

    async def market_samples(self, symbol: str, start_ns: int, end_ns: int,
                             kind: str | None = None) -> list[MarketSample]:
        q = (f"SELECT {rows.SAMPLE_COLUMNS} FROM market_samples WHERE symbol = ? AND ts_ns BETWEEN ? AND ?"
             + (" AND kind = ?" if kind else "") + " ORDER BY ts_ns, rowid")
        args = (symbol, start_ns, end_ns, kind) if kind else (symbol, start_ns, end_ns)
        return [rows.sample(r) for r in self.db.execute(q, args)]

    async def put_credential(self, c: StoredCredential) -> None:
        self._begin()
        try:
            with self._s:
                self.db.execute(
                    f"INSERT INTO credentials ({rows.CREDENTIAL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(credential_id) DO UPDATE SET permissions = excluded.permissions,"
                    " wrap_key_id = excluded.wrap_key_id, wrapped_key = excluded.wrapped_key", rows.credential_row(c))
                self._event("credential", c.credential_id, {"client": c.client, "venue": c.venue,
                                                            "wrap_key_id": c.wrap_key_id})
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(f"credential {c.credential_id}: {exc}") from exc
        await self.durable()

    async def delete_credential(self, credential_id: str) -> None:
        self._begin()
        with self._s:
            self.db.execute("DELETE FROM credentials WHERE credential_id = ?", (credential_id,))
            self._event("credential_deleted", credential_id, {})
        await self.durable()

    async def credentials(self) -> list[StoredCredential]:
        return [rows.credential(r) for r in self.db.execute(
            f"SELECT {rows.CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_ns, credential_id")]

    async def schema_version(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._s.close()


class _Atomic:
    """`SqliteLedgerStore.atomic()`: the group's savepoint, and the fill ids a dropped block added."""

    __slots__ = ("store",)

    def __init__(self, store: SqliteLedgerStore) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store._begin()
        self.store._fills.begin_block()
        self.store._s.__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            self.store._s.__exit__(exc_type, exc, tb)
        finally:
            self.store._fills.end_block(exc_type is None)
