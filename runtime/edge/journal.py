"""The edge's durable record of its orders, fills and the order-event stream (SQLite, WAL).

Every change is one transaction: a fill inserts its row (the venue fill id is the primary
key, so a fill seen twice is booked once), updates the order and appends the event the CC
will read by sequence number. After `kill -9` the edge reopens this file and resumes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from seqmesh.runtime.proto.edge_pb2 import Fill, OrderEvent
from seqmesh.runtime.store.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL, side INTEGER NOT NULL, type INTEGER NOT NULL, tif INTEGER NOT NULL,
    qty TEXT NOT NULL, price TEXT NOT NULL,
    state INTEGER NOT NULL, venue_order_id TEXT NOT NULL DEFAULT '',
    filled TEXT NOT NULL DEFAULT '0', cum_quote TEXT NOT NULL DEFAULT '0',
    reason TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    account TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_by_order ON fills (client_order_id);
CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- amends sent (or about to be) whose answer is not recorded yet: reconciliation asks the venue
CREATE TABLE IF NOT EXISTS amends (client_order_id TEXT PRIMARY KEY, qty TEXT NOT NULL, price TEXT NOT NULL);
"""


@dataclass
class OrderRecord:
    client_order_id: str
    symbol: str
    side: int
    type: int
    tif: int
    qty: Decimal
    price: Decimal | None
    state: int
    created_ns: int
    updated_ns: int
    venue_order_id: str = ""
    filled: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    reason: str = ""
    fills: list[Fill] = field(default_factory=list)
    account: str = ""  # a client's own venue account (its credential id); "" = the edge's shared one

    @property
    def avg_price(self) -> Decimal | None:
        return self.cum_quote / self.filled if self.filled else None


#: Sequence numbers skipped at every start: more events than a process records between two commits.
SEQ_GAP = 1_000_000


class Journal(SqliteStore):
    def __init__(self, path: Path, durability: str = "power-loss") -> None:
        super().__init__(path, SCHEMA, durability)
        if "account" not in {r[1] for r in self.db.execute("PRAGMA table_info(orders)")}:
            self.db.execute("ALTER TABLE orders ADD COLUMN account TEXT NOT NULL DEFAULT ''")  # journals before it
        # An ack carries its events' seqs before their COMMIT; if the process died before it,
        # those seqs were never written and must not name other events now: start past them.
        with self:
            self.db.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'events', 0 WHERE NOT EXISTS"
                            " (SELECT 1 FROM sqlite_sequence WHERE name = 'events')")
            self.db.execute("UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'events'", (SEQ_GAP,))

    # -- reads -----------------------------------------------------------------------------

    _ORDER_COLUMNS = ("client_order_id, symbol, side, type, tif, qty, price, state, created_ns, updated_ns,"
                      " venue_order_id, filled, cum_quote, reason, account")

    def load_orders(self, states: Collection[int]) -> dict[str, OrderRecord]:
        """The orders in any of `states`, with their fills (the edge keeps only its live ones)."""
        marks = ",".join("?" * len(states))
        orders = {row[0]: _order(row) for row in self.db.execute(
            f"SELECT {self._ORDER_COLUMNS} FROM orders WHERE state IN ({marks})", tuple(states))}
        for cid, order in orders.items():
            order.fills = self._fills(cid)
        return orders

    def load_order(self, client_order_id: str) -> OrderRecord | None:
        row = self.db.execute(f"SELECT {self._ORDER_COLUMNS} FROM orders WHERE client_order_id = ?",
                              (client_order_id,)).fetchone()
        if row is None:
            return None
        order = _order(row)
        order.fills = self._fills(client_order_id)
        return order

    def _fills(self, client_order_id: str) -> list[Fill]:
        return [Fill.FromString(body) for (body,) in self.db.execute(
            "SELECT body FROM fills WHERE client_order_id = ? ORDER BY rowid", (client_order_id,))]

    def events_after(self, seq: int, upto: int, limit: int = 1000) -> list[OrderEvent]:
        """Events with `seq < seq' <= upto`, in order (at most `limit`)."""
        out = []
        for row_seq, body in self.db.execute(
            "SELECT seq, body FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?", (seq, upto, limit)
        ):
            event = OrderEvent.FromString(body)
            event.seq = row_seq
            out.append(event)
        return out

    def last_seq(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def has_fill(self, fill_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def cursor(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    # -- writes (each one transaction) -----------------------------------------------------

    def record(self, order: OrderRecord, event: OrderEvent, fill: Fill | None = None) -> int | None:
        """Persist the order's new state and its event (and fill); returns the event seq.

        Returns None, writing nothing, when `fill` was already booked.
        """
        with self:
            cur = self.db.cursor()
            if fill is not None:
                cur.execute("INSERT OR IGNORE INTO fills (fill_id, client_order_id, body) VALUES (?, ?, ?)",
                            (fill.fill_id, order.client_order_id, fill.SerializeToString()))
                if cur.rowcount == 0:
                    return None
            cur.execute(
                "INSERT INTO orders (client_order_id, symbol, side, type, tif, qty, price, state, created_ns,"
                " updated_ns, venue_order_id, filled, cum_quote, reason, account)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(client_order_id) DO UPDATE SET state=excluded.state, updated_ns=excluded.updated_ns,"
                " venue_order_id=excluded.venue_order_id, filled=excluded.filled, cum_quote=excluded.cum_quote,"
                " reason=excluded.reason, qty=excluded.qty, price=excluded.price",
                (order.client_order_id, order.symbol, order.side, order.type, order.tif, str(order.qty),
                 "" if order.price is None else str(order.price), order.state, order.created_ns,
                 order.updated_ns, order.venue_order_id, str(order.filled), str(order.cum_quote), order.reason,
                 order.account),
            )
            cur.execute("INSERT INTO events (body) VALUES (?)", (event.SerializeToString(),))
            seq = cur.lastrowid
        assert seq is not None
        return seq

    def amending(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Orders with an amend whose outcome is not recorded: id -> (quantity, price) asked for."""
        return {cid: (Decimal(q), Decimal(p)) for cid, q, p in self.db.execute("SELECT * FROM amends")}

    def begin_amend(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        self.db.execute("INSERT OR REPLACE INTO amends VALUES (?, ?, ?)", (client_order_id, str(qty), str(price)))

    def end_amend(self, client_order_id: str) -> None:
        self.db.execute("DELETE FROM amends WHERE client_order_id = ?", (client_order_id,))

    def set_cursor(self, name: str, value: str) -> None:
        self.db.execute("INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
                        " SET value=excluded.value", (name, value))


def _order(row: Any) -> OrderRecord:
    """An `orders` row (columns as in Journal._ORDER_COLUMNS), without its fills."""
    return OrderRecord(row[0], row[1], row[2], row[3], row[4], Decimal(row[5]), Decimal(row[6]) if row[6] else None,
                       row[7], row[8], row[9], row[10], Decimal(row[11]), Decimal(row[12]), row[13], account=row[14])
