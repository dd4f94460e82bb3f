"""The CC's ledger across versions and restarts: children keep the last edge event they applied."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from seqmesh.runtime.cc.domain import Child, OrderType, Parent, ParentState, Side
from seqmesh.runtime.cc.ledger import Ledger

# The children table as ledgers written before `last_seq` existed have it.
OLD_CHILDREN = """
CREATE TABLE children (
    child_id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents(order_id), venue TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT, type TEXT NOT NULL, state TEXT NOT NULL, venue_order_id TEXT NOT NULL,
    filled TEXT NOT NULL, cum_quote TEXT NOT NULL, reason TEXT NOT NULL, sent INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL
);
INSERT INTO children VALUES ('p1-0', 'p1', 'okx', '1', NULL, 'market', 'FILLED', '9', '1', '65000', '', 1, 1, 2);
"""


def test_an_older_ledger_gains_last_seq_and_a_child_keeps_it_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cc.sqlite"
    first = Ledger(path)
    first.save_parent(Parent("p1", "dev", "", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal(1), None,
                             ParentState.FILLED, 1, 2))
    first.close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE children;" + OLD_CHILDREN)
    db.close()

    ledger = Ledger(path)  # adds the column; the old child reads as "no event applied yet"
    [old] = ledger.parent("p1").children
    assert old.last_seq == 0 and old.state == "FILLED" and old.filled == 1
    child = Child("p1-1", "p1", "kraken", Decimal(1), None, OrderType.MARKET, "FILLED", last_seq=42)
    ledger.save_child(child)
    ledger.close()
    kept = {c.child_id: c.last_seq for c in Ledger(path).parent("p1").children}
    assert kept == {"p1-0": 0, "p1-1": 42}
