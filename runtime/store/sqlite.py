"""The durable SQLite store under the edge's journal and the CC's ledger.

WAL with `synchronous=FULL` by default (durability "power-loss"): a committed transaction
survives `kill -9` and power loss. Durability "process-crash" (`synchronous=NORMAL`) keeps
every commit through `kill -9` of the process (the WAL is written before COMMIT returns) but
may lose the last transactions if the machine loses power; it takes the fsync off every commit.
`with store:` makes its writes atomic: at the outermost level it is a transaction (inside an
open group, a savepoint); nested blocks join the outermost one. Group commit: writers that
`await store.durable()` in the same event-loop turn share one COMMIT (one fsync), which is what
lets a busy process commit hundreds of orders per second on a disk where each fsync costs
~0.25-0.35 ms.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from .timer import EarliestCall

#: durability -> SQLite's synchronous setting
SYNCHRONOUS = {"power-loss": "FULL", "process-crash": "NORMAL"}


class SqliteStore:
    def __init__(self, path: Path, schema: str, durability: str = "power-loss") -> None:
        if durability not in SYNCHRONOUS:
            raise ValueError(f"durability must be one of {', '.join(SYNCHRONOUS)}, got {durability!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={SYNCHRONOUS[durability]}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(schema)
        self._depth = 0
        self._group_open = False
        self._waiters: list[asyncio.Future[None]] = []
        self._flush_scheduled = False
        self._later = EarliestCall(self._flush_later)  # a delayed commit_soon's flush
        self.commits = 0
        #: called after each COMMIT of a group (what the group wrote is durable from then on)
        self.on_commit: list[Callable[[], None]] = []

    def __enter__(self) -> SqliteStore:
        # Only the outermost block opens anything: a transaction, or inside an open group a
        # savepoint (so a failing writer undoes just its own writes). Nested blocks join it —
        # an exception leaving an inner block leaves the outer one too — which saves two
        # statements per nested block on the order path.
        if self._depth == 0:
            self.db.execute("SAVEPOINT sp" if self._group_open else "BEGIN IMMEDIATE")
        self._depth += 1
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        if not self._group_open:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            self.commits += exc_type is None
            return
        if exc_type is not None:
            self.db.execute("ROLLBACK TO sp")
        self.db.execute("RELEASE sp")

    @property
    def group_open(self) -> bool:
        """A group transaction is open: what was written since is not committed yet."""
        return self._group_open

    def begin_group(self) -> None:
        """Open (or join) the group transaction that the next `durable()` flush commits."""
        if not self._group_open and self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
            self._group_open = True

    async def durable(self) -> None:
        """Return once everything written so far is committed (one COMMIT per loop turn)."""
        if not self._group_open:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._schedule_flush()
        await waiter

    def commit_soon(self, delay_s: float = 0.0) -> None:
        """Commit the open group in a coming loop turn, or `delay_s` from now, without waiting for
        it. A delay lets work already under way (an HTTP answer) go out before the fsync blocks
        the loop, and lets more writers share the commit; a `durable()` meanwhile commits at once."""
        if not self._group_open:
            return
        if delay_s <= 0:
            self._schedule_flush()
        elif not self._flush_scheduled:
            self._later.within(delay_s)  # the earliest ask wins

    def _schedule_flush(self) -> None:
        """A flush in the next loop turn (one, however many ask)."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush_later(self) -> None:
        if not self._flush_scheduled:
            self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._later.cancel()
        waiters, self._waiters = self._waiters, []
        try:
            if self._group_open and self._depth == 0:
                self._group_open = False
                self.db.execute("COMMIT")
                self.commits += 1
                for callback in self.on_commit:
                    callback()
            elif self._group_open:  # a synchronous writer is mid-savepoint: try again next turn
                self._waiters = waiters + self._waiters
                self._schedule_flush()
                return
        except sqlite3.Error as exc:
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            return
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def close(self) -> None:
        if self._group_open:
            self.db.execute("COMMIT")
            self._group_open = False
        self.db.close()
