"""The durable SQLite store under the edge's journal and the CC's ledger.

WAL with `synchronous=FULL`: a committed transaction survives `kill -9` and power loss.
`with store:` groups writes into one transaction (nested uses join the outer one), so a
state change, its event and a stream cursor are committed together or not at all.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class SqliteStore:
    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(schema)
        self._depth = 0

    def __enter__(self) -> SqliteStore:
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def close(self) -> None:
        self.db.close()
