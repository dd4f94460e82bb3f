"""The CC's ledger as it was before the store interface (schema 0001), kept to write ledgers of
that schema for the upgrade test (tests/unit/test_store_migrations.py) and as the store
benchmark's baseline. The CC itself uses `runtime/cc/store/`.

Parent orders, child orders and fills in SQLite (WAL, fsync on commit).

Event-sourced: every change appends an event row in the same transaction as the state it
produces, and positions are derived from fills, never stored. A fill is keyed by its venue
fill id, so replaying an edge's event stream books nothing twice; the edge's stream cursor
is saved in the transaction that books what it read, so a CC killed at any instant resumes
exactly where its ledger stops.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from seqmesh.runtime.cc.domain import Child, ChildState, Fill, OrderType, Parent, ParentState, Side
from seqmesh.runtime.store.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS parents (
    order_id TEXT PRIMARY KEY, client TEXT NOT NULL, client_order_id TEXT,
    symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, qty TEXT NOT NULL, price TEXT,
    state TEXT NOT NULL, reason TEXT NOT NULL, cancel_requested INTEGER NOT NULL, reroutes INTEGER NOT NULL,
    decision TEXT NOT NULL, created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    UNIQUE (client, client_order_id)
);
CREATE TABLE IF NOT EXISTS children (
    child_id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents(order_id), venue TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT, type TEXT NOT NULL, state TEXT NOT NULL, venue_order_id TEXT NOT NULL,
    filled TEXT NOT NULL, cum_quote TEXT NOT NULL, reason TEXT NOT NULL, sent INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, child_id TEXT NOT NULL, parent_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL, maker INTEGER NOT NULL, exchange_ts INTEGER NOT NULL, booked_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS algo_fills (
    fill_id TEXT PRIMARY KEY, client TEXT NOT NULL, algo TEXT NOT NULL, order_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL, maker INTEGER NOT NULL, exchange_ts INTEGER NOT NULL, booked_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_cursors (venue TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS remote_children (
    child_id TEXT PRIMARY KEY, origin TEXT NOT NULL, venue TEXT NOT NULL, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS parents_by_state ON parents (state);
CREATE INDEX IF NOT EXISTS parents_by_client ON parents (client, created_ns);
CREATE INDEX IF NOT EXISTS children_by_parent ON children (parent_id);
CREATE INDEX IF NOT EXISTS fills_by_parent ON fills (parent_id);
"""

_PARENT_COLUMNS = ("order_id, client, client_order_id, symbol, side, type, qty, price, state, reason,"
                   " cancel_requested, reroutes, decision, created_ns, updated_ns")
_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's limit on bound parameters


def _dec(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _chunks(ids: list[str]) -> Iterator[tuple[list[str], str]]:
    """`ids` in slices for `IN (...)`, each with its placeholders."""
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i:i + _IN_CHUNK]
        yield chunk, ",".join("?" * len(chunk))


def _fill(r: Any) -> Fill:
    """A `fills` row: fill_id, child_id, parent_id, venue, symbol, side, price, qty, fee, fee_asset,
    maker, exchange_ts, booked_ns."""
    return Fill(r[0], r[1], r[2], r[3], r[4], Side(r[5]), Decimal(r[6]), Decimal(r[7]), Decimal(r[8]), r[9],
                bool(r[10]), r[11], r[12])


class Ledger(SqliteStore):
    def __init__(self, path: Path, durability: str = "power-loss") -> None:
        super().__init__(path, SCHEMA, durability)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(children)")}
        if "last_seq" not in columns:  # a ledger written before children kept their last edge event
            self.db.execute("ALTER TABLE children ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0")

    # -- loading ---------------------------------------------------------------------------

    def _load(self, where: str, args: tuple[Any, ...] = ()) -> dict[str, Parent]:
        """The parents matching `where`, oldest first, with their children and fills."""
        parents: dict[str, Parent] = {}
        for r in self.db.execute(f"SELECT {_PARENT_COLUMNS} FROM parents WHERE {where} ORDER BY created_ns", args):
            parents[r[0]] = Parent(r[0], r[1], r[2] or "", r[3], Side(r[4]), OrderType(r[5]), Decimal(r[6]), _dec(r[7]),
                                   ParentState(r[8]), r[13], r[14], r[9], bool(r[10]), r[11], json.loads(r[12]))
        for chunk, marks in _chunks(list(parents)):
            for r in self.db.execute(
                "SELECT child_id, parent_id, venue, qty, price, type, state, venue_order_id, filled, cum_quote,"
                f" reason, sent, last_seq, created_ns, updated_ns FROM children WHERE parent_id IN ({marks})"
                " ORDER BY created_ns, child_id", chunk
            ):
                parents[r[1]].children.append(Child(
                    r[0], r[1], r[2], Decimal(r[3]), _dec(r[4]), OrderType(r[5]), ChildState(r[6]), r[7], Decimal(r[8]),
                    Decimal(r[9]), r[10], bool(r[11]), r[12], r[13], r[14]))
            for r in self.db.execute(
                "SELECT fill_id, child_id, parent_id, venue, symbol, side, price, qty, fee, fee_asset, maker,"
                f" exchange_ts, booked_ns FROM fills WHERE parent_id IN ({marks}) ORDER BY rowid", chunk
            ):
                parents[r[2]].fills.append(_fill(r))
        return parents

    def live_parents(self, final: Collection[ParentState]) -> dict[str, Parent]:
        """Every parent not in a `final` state (what the CC keeps in memory from the start)."""
        return self._load(f"state NOT IN ({','.join('?' * len(final))})", tuple(s.value for s in final))

    def parent(self, order_id: str) -> Parent | None:
        return self._load("order_id = ?", (order_id,)).get(order_id)

    def parents(self, order_ids: list[str]) -> dict[str, Parent]:
        out: dict[str, Parent] = {}
        for chunk, marks in _chunks(order_ids):
            out.update(self._load(f"order_id IN ({marks})", tuple(chunk)))
        return out

    def parent_by_client_id(self, client: str, client_order_id: str) -> Parent | None:
        found = self._load("client = ? AND client_order_id = ?", (client, client_order_id))
        return next(iter(found.values()), None)

    def parent_id_of_child(self, child_id: str) -> str | None:
        row = self.db.execute("SELECT parent_id FROM children WHERE child_id = ?", (child_id,)).fetchone()
        return None if row is None else str(row[0])

    def client_order_ids(self, client: str, symbol: str | None, state: str | None, limit: int) -> list[str]:
        """The client's latest `limit` parent order ids (optionally of one symbol or state), oldest first."""
        where, args = ["client = ?"], [client]
        if symbol:
            where.append("symbol = ?")
            args.append(symbol)
        if state:
            where.append("state = ?")
            args.append(state)
        rows = self.db.execute(f"SELECT order_id FROM parents WHERE {' AND '.join(where)}"
                               " ORDER BY created_ns DESC LIMIT ?", (*args, limit)).fetchall()
        return [r[0] for r in reversed(rows)]

    def client_fills(self) -> Iterator[tuple[str, Fill]]:
        """Every fill of a parent order with its client, in booking order (streamed, not loaded)."""
        for r in self.db.execute(
            "SELECT p.client, f.fill_id, f.child_id, f.parent_id, f.venue, f.symbol, f.side, f.price, f.qty, f.fee,"
            " f.fee_asset, f.maker, f.exchange_ts, f.booked_ns FROM fills f JOIN parents p ON p.order_id = f.parent_id"
            " ORDER BY f.rowid"
        ):
            yield r[0], _fill(r[1:])

    def child_venues(self) -> set[str]:
        """Every venue a child order was ever sent to."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT venue FROM children")}

    def algo_fills(self) -> list[tuple[str, Fill]]:
        """Fills of orders WebAssembly algos placed on the edges, with the client that deployed them."""
        return [(r[0], Fill(r[1], r[2], f"algo:{r[3]}", r[4], r[5], Side(r[6]), Decimal(r[7]), Decimal(r[8]),
                            Decimal(r[9]), r[10], bool(r[11]), r[12], r[13]))
                for r in self.db.execute(
                    "SELECT client, fill_id, order_id, algo, venue, symbol, side, price, qty, fee, fee_asset, maker,"
                    " exchange_ts, booked_ns FROM algo_fills ORDER BY rowid")]

    def add_algo_fill(self, client: str, algo: str, f: Fill) -> bool:
        """Book an algo's fill (idempotent on the venue fill id, like every fill)."""
        with self:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO algo_fills (fill_id, client, algo, order_id, venue, symbol, side, price, qty,"
                " fee, fee_asset, maker, exchange_ts, booked_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.fill_id, client, algo, f.child_id, f.venue, f.symbol, f.side.value, str(f.price), str(f.qty),
                 str(f.fee), f.fee_asset, int(f.maker), f.exchange_ts, f.booked_ns))
            if cur.rowcount == 0:
                return False
            self._event("algo_fill", algo, {"fill_id": f.fill_id, "client": client, "venue": f.venue,
                                            "qty": str(f.qty), "price": str(f.price)})
            return True

    def remote_children(self) -> dict[str, tuple[str, str]]:
        """Children other regions sent to our edges: child id -> (origin region, venue)."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT child_id, origin, venue FROM remote_children")}

    def add_remote_child(self, child_id: str, origin: str, venue: str) -> None:
        with self:
            self.db.execute("INSERT OR IGNORE INTO remote_children (child_id, origin, venue, created_ns)"
                            " VALUES (?, ?, ?, ?)", (child_id, origin, venue, time.time_ns()))

    def cursor(self, venue: str) -> int:
        row = self.db.execute("SELECT last_seq FROM edge_cursors WHERE venue = ?", (venue,)).fetchone()
        return int(row[0]) if row else 0

    def flag(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM flags WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def has_fill(self, fill_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def events(self, ref: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT seq, ts, kind, ref, body FROM events" + (" WHERE ref = ?" if ref else "") + " ORDER BY seq"
        rows = self.db.execute(q, (ref,) if ref else ())
        return [{"seq": r[0], "ts": r[1], "kind": r[2], "ref": r[3], **json.loads(r[4])} for r in rows]

    # -- writing ---------------------------------------------------------------------------

    def _event(self, kind: str, ref: str, body: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO events (ts, kind, ref, body) VALUES (?, ?, ?, ?)",
                        (time.time_ns(), kind, ref, orjson.dumps(body, default=str).decode()))

    def save_parent(self, p: Parent, kind: str = "parent") -> None:
        with self:
            self.db.execute(
                "INSERT INTO parents (order_id, client, client_order_id, symbol, side, type, qty, price, state,"
                " reason, cancel_requested, reroutes, decision, created_ns, updated_ns)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(order_id) DO UPDATE SET state=excluded.state,"
                " reason=excluded.reason, cancel_requested=excluded.cancel_requested, reroutes=excluded.reroutes,"
                " decision=excluded.decision, updated_ns=excluded.updated_ns",
                (p.order_id, p.client, p.client_order_id or None, p.symbol, p.side.value, p.type.value, str(p.qty),
                 None if p.price is None else str(p.price), p.state.value, p.reason, int(p.cancel_requested),
                 p.reroutes, orjson.dumps(p.decision, default=str).decode(), p.created_ns, p.updated_ns),
            )
            self._event(kind, p.order_id, {"state": p.state.value, "reason": p.reason})

    def save_child(self, c: Child, kind: str = "child") -> None:
        with self:
            self.db.execute(
                "INSERT INTO children (child_id, parent_id, venue, qty, price, type, state, venue_order_id, filled,"
                " cum_quote, reason, sent, last_seq, created_ns, updated_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(child_id) DO UPDATE SET state=excluded.state, venue_order_id=excluded.venue_order_id,"
                " filled=excluded.filled, cum_quote=excluded.cum_quote, reason=excluded.reason, sent=excluded.sent,"
                " last_seq=excluded.last_seq, updated_ns=excluded.updated_ns",
                (c.child_id, c.parent_id, c.venue, str(c.qty), None if c.price is None else str(c.price),
                 c.type.value, c.state, c.venue_order_id, str(c.filled), str(c.cum_quote), c.reason, int(c.sent),
                 c.last_seq, c.created_ns, c.updated_ns),
            )
            self._event(kind, c.child_id, {"parent": c.parent_id, "venue": c.venue, "state": c.state,
                                           "filled": str(c.filled)})

    def add_fill(self, f: Fill) -> bool:
        """Book a fill; False (and nothing written) if its fill id is already booked."""
        with self:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO fills (fill_id, child_id, parent_id, venue, symbol, side, price, qty, fee,"
                " fee_asset, maker, exchange_ts, booked_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.fill_id, f.child_id, f.parent_id, f.venue, f.symbol, f.side.value, str(f.price), str(f.qty),
                 str(f.fee), f.fee_asset, int(f.maker), f.exchange_ts, f.booked_ns),
            )
            if cur.rowcount == 0:
                return False
            self._event("fill", f.parent_id, {"fill_id": f.fill_id, "venue": f.venue, "qty": str(f.qty),
                                              "price": str(f.price)})
            return True

    def set_cursor(self, venue: str, seq: int) -> None:
        with self:
            # Never backwards: a replay from a peer may deliver older events after newer ones.
            self.db.execute("INSERT INTO edge_cursors (venue, last_seq) VALUES (?, ?) ON CONFLICT(venue)"
                            " DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)", (venue, seq))

    def set_flag(self, name: str, value: str) -> None:
        with self:
            self.db.execute("INSERT INTO flags (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
                            " SET value = excluded.value", (name, value))
            self._event("flag", name, {"value": value})
