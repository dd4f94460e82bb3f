"""The edge's record of every settlement transaction it signed, written before it is sent.

A signed transaction is identified by its signature before it reaches the chain, so after a
crash the edge asks the chain about each signature it recorded: landed (book the fill), or
its blockhash expired without it landing (it never will: the order may be quoted again).
Each settlement names the venue account it trades on (`account`: a client's credential id, ""
for the edge's own key) and the taker that signed it (`taker`: its public key), whose token
accounts its fill is read from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from seqmesh.runtime.store.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS settlements (
    signature TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    quote_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    buy INTEGER NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    last_valid_block_height INTEGER NOT NULL,
    tx BLOB NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'pending',
    created_ns INTEGER NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    taker TEXT NOT NULL DEFAULT ''  -- '' in a journal from before: the edge's own key
);
CREATE INDEX IF NOT EXISTS settlements_by_order ON settlements (client_order_id);
"""

#: pending: sent or about to be; landed: on chain (its fill is read back); failed: landed with an
#: error (nothing moved but the fee); expired: its blockhash passed without it landing
OUTCOMES = ("pending", "landed", "failed", "expired")


@dataclass(frozen=True)
class Settlement:
    signature: str
    client_order_id: str
    quote_id: str
    symbol: str
    buy: bool
    qty: Decimal
    price: Decimal
    last_valid_block_height: int
    tx: bytes
    outcome: str
    account: str = ""
    taker: str = ""


class SettlementJournal(SqliteStore):
    def __init__(self, path: Path, durability: str = "power-loss") -> None:
        super().__init__(path, SCHEMA, durability)
        if "taker" not in {r[1] for r in self.db.execute("PRAGMA table_info(settlements)")}:  # journals before it
            self.db.execute("ALTER TABLE settlements ADD COLUMN account TEXT NOT NULL DEFAULT ''")
            self.db.execute("ALTER TABLE settlements ADD COLUMN taker TEXT NOT NULL DEFAULT ''")

    def record(self, s: Settlement) -> None:
        """Durable when this returns (its own committed transaction): only then may it be sent."""
        with self:
            self.db.execute(
                "INSERT INTO settlements (signature, client_order_id, quote_id, symbol, buy, qty, price,"
                " last_valid_block_height, tx, outcome, created_ns, account, taker)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (s.signature, s.client_order_id, s.quote_id, s.symbol, int(s.buy), str(s.qty), str(s.price),
                 s.last_valid_block_height, s.tx, s.outcome, time.time_ns(), s.account, s.taker))

    def settle(self, signature: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown settlement outcome {outcome!r}")
        with self:
            self.db.execute("UPDATE settlements SET outcome = ? WHERE signature = ?", (outcome, signature))

    _COLUMNS = ("signature, client_order_id, quote_id, symbol, buy, qty, price, last_valid_block_height, tx, outcome,"
                " account, taker")

    def of_order(self, client_order_id: str) -> list[Settlement]:
        """The order's settlements, oldest first."""
        return [_settlement(r) for r in self.db.execute(
            f"SELECT {self._COLUMNS} FROM settlements WHERE client_order_id = ? ORDER BY rowid", (client_order_id,))]

    def by_signature(self, signature: str) -> Settlement | None:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM settlements WHERE signature = ?", (signature,)).fetchone()
        return None if row is None else _settlement(row)


def _settlement(r: Any) -> Settlement:
    return Settlement(r[0], r[1], r[2], r[3], bool(r[4]), Decimal(r[5]), Decimal(r[6]), r[7], r[8], r[9], r[10],
                      r[11])
