"""The DEX edge's durable record of its swaps and of every signed transaction (SQLite, WAL).

A transaction is written here, signed, with its hash and nonce, and committed before it is
broadcast: whatever happens next (a crash, a node that forgets it, a reorg), the edge holds the
exact bytes it may have sent and can always ask the chain what became of them, or send them
again, without ever signing a second swap for the same order. A swap has one nonce; a
replacement (a higher fee for the same nonce) is a further attempt of the same swap, so at most
one attempt can ever be mined.

A swap names the venue account it trades on (`account`: a client's credential id, "" for the
edge's own key) and the address that signs it (`sender`): nonces are counted per sender, and
after a restart each unfinished swap is followed, resent or replaced with its own wallet.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from seqmesh.runtime.store.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS swaps (
    client_order_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
    nonce INTEGER NOT NULL, tx_json TEXT NOT NULL,
    state TEXT NOT NULL,  -- signed | confirmed | reverted | failed | canceled
    first_hash BLOB NOT NULL,
    mined_hash BLOB, block_number INTEGER, block_ts INTEGER,
    base_raw TEXT, quote_raw TEXT, gas_used INTEGER, gas_price INTEGER,
    reason TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL,
    account TEXT NOT NULL DEFAULT '', sender TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS swaps_by_state ON swaps (state);
CREATE INDEX IF NOT EXISTS swaps_by_sender ON swaps (sender, nonce);
CREATE TABLE IF NOT EXISTS attempts (
    tx_hash BLOB PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES swaps (client_order_id),
    raw BLOB NOT NULL, max_fee INTEGER NOT NULL, priority_fee INTEGER NOT NULL,
    sent_block INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_swap ON attempts (client_order_id);
"""

UNFINISHED = "signed"
FINAL = ("confirmed", "reverted", "failed", "canceled")


@dataclass
class Attempt:
    tx_hash: HexBytes
    raw: bytes
    max_fee: int
    priority_fee: int
    sent_block: int  # the head when it was last sent


@dataclass
class Swap:
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    qty: str
    nonce: int
    tx_json: str  # the unsigned transaction but its fees (a replacement signs it again)
    state: str
    first_hash: HexBytes
    created_ns: int
    mined_hash: HexBytes | None = None
    block_number: int | None = None
    block_ts: int | None = None
    base_raw: int | None = None
    quote_raw: int | None = None
    gas_used: int | None = None
    gas_price: int | None = None
    reason: str = ""
    account: str = ""  # the client's credential id; "" for the edge's own key
    sender: str = ""  # the address that signs it


_COLUMNS = ("client_order_id, symbol, side, qty, nonce, tx_json, state, first_hash, created_ns, mined_hash,"
            " block_number, block_ts, base_raw, quote_raw, gas_used, gas_price, reason, account, sender")


def _swap(row: Any) -> Swap:
    """A `swaps` row (columns as in _COLUMNS); amounts are stored as text (they exceed SQLite's integers)."""
    def opt(value: Any) -> int | None:
        return None if value is None else int(value)

    return Swap(row[0], row[1], row[2], row[3], row[4], row[5], row[6], HexBytes(row[7]), row[8],
                None if row[9] is None else HexBytes(row[9]), opt(row[10]), opt(row[11]), opt(row[12]),
                opt(row[13]), opt(row[14]), opt(row[15]), row[16], row[17], row[18])


class TxJournal(SqliteStore):
    def __init__(self, path: Path, durability: str = "power-loss", own_sender: str = "") -> None:
        """`own_sender`: the edge's own address, which signed the swaps of a journal from before
        swaps named their sender."""
        if path.exists():
            _add_accounts(path, own_sender)
        super().__init__(path, SCHEMA, durability)

    # -- reads -----------------------------------------------------------------------------

    def swap(self, client_order_id: str) -> Swap | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM swaps WHERE client_order_id = ?", (client_order_id,)).fetchone()
        return None if row is None else _swap(row)

    def swaps(self, state: str, symbol: str | None = None) -> list[Swap]:
        sql, args = f"SELECT {_COLUMNS} FROM swaps WHERE state = ?", [state]
        if symbol is not None:
            sql, args = sql + " AND symbol = ?", [*args, symbol]
        return [_swap(r) for r in self.db.execute(sql + " ORDER BY nonce", args)]

    def confirmed_since(self, symbol: str, since_ts: int, account: str = "") -> list[Swap]:
        """Confirmed swaps of `symbol` on `account` in blocks stamped at or after `since_ts` (seconds)."""
        return [_swap(r) for r in self.db.execute(
            f"SELECT {_COLUMNS} FROM swaps WHERE state = 'confirmed' AND symbol = ? AND block_ts >= ?"
            " AND account = ? ORDER BY block_number", (symbol, since_ts, account))]

    def attempts(self, client_order_id: str) -> list[Attempt]:
        return [Attempt(HexBytes(h), bytes(raw), int(fee), int(tip), int(block)) for h, raw, fee, tip, block in
                self.db.execute("SELECT tx_hash, raw, max_fee, priority_fee, sent_block FROM attempts"
                                " WHERE client_order_id = ? ORDER BY rowid", (client_order_id,))]

    def next_nonce(self, sender: str) -> int:
        """One past the highest nonce any swap `sender` signed here used (0 for none)."""
        row = self.db.execute("SELECT COALESCE(MAX(nonce) + 1, 0) FROM swaps WHERE state != 'failed'"
                              " AND state != 'canceled' AND sender = ?", (sender,)).fetchone()
        return int(row[0])

    # -- writes (each one committed transaction) -------------------------------------------

    def signed(self, swap: Swap, attempt: Attempt) -> None:
        """A new swap and its first signed transaction, committed before it is broadcast."""
        with self:
            self.db.execute(
                "INSERT INTO swaps (client_order_id, symbol, side, qty, nonce, tx_json, state, first_hash,"
                " created_ns, account, sender) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (swap.client_order_id, swap.symbol, swap.side, swap.qty, swap.nonce, swap.tx_json, swap.state,
                 bytes(swap.first_hash), swap.created_ns, swap.account, swap.sender))
            self._attempt(swap.client_order_id, attempt)

    def replaced(self, client_order_id: str, attempt: Attempt) -> None:
        """A further signed transaction of the swap (same nonce, higher fee), committed before it is sent."""
        with self:
            self._attempt(client_order_id, attempt)

    def _attempt(self, cid: str, a: Attempt) -> None:
        self.db.execute("INSERT INTO attempts (tx_hash, client_order_id, raw, max_fee, priority_fee, sent_block)"
                        " VALUES (?,?,?,?,?,?)", (bytes(a.tx_hash), cid, a.raw, a.max_fee, a.priority_fee,
                                                  a.sent_block))

    def resent(self, tx_hash: HexBytes, head: int) -> None:
        with self:
            self.db.execute("UPDATE attempts SET sent_block = ? WHERE tx_hash = ?", (head, bytes(tx_hash)))

    def canceled(self, swap: Swap) -> None:
        """An order cancelled before any transaction was signed for it: nothing will ever be."""
        with self:
            self.db.execute("INSERT INTO swaps (client_order_id, symbol, side, qty, nonce, tx_json, state,"
                            " first_hash, created_ns, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (swap.client_order_id, swap.symbol, swap.side, swap.qty, -1, "{}", "canceled", b"",
                             swap.created_ns, swap.reason))

    def finish(self, swap: Swap) -> None:
        """The swap's outcome (state and, when mined, its block and amounts)."""
        with self:
            self.db.execute(
                "UPDATE swaps SET state=?, mined_hash=?, block_number=?, block_ts=?, base_raw=?, quote_raw=?,"
                " gas_used=?, gas_price=?, reason=? WHERE client_order_id=?",
                (swap.state, None if swap.mined_hash is None else bytes(swap.mined_hash), swap.block_number,
                 swap.block_ts, None if swap.base_raw is None else str(swap.base_raw),
                 None if swap.quote_raw is None else str(swap.quote_raw), swap.gas_used, swap.gas_price,
                 swap.reason, swap.client_order_id))


def _add_accounts(path: Path, own_sender: str) -> None:
    """A journal from before swaps named their account and sender: every swap in it was the
    edge's own, signed by `own_sender`."""
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(swaps)")}
        if columns and "sender" not in columns:
            db.execute("ALTER TABLE swaps ADD COLUMN account TEXT NOT NULL DEFAULT ''")
            db.execute("ALTER TABLE swaps ADD COLUMN sender TEXT NOT NULL DEFAULT ''")
            db.execute("UPDATE swaps SET sender = ?", (own_sender,))
    db.close()
