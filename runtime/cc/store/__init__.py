"""The CC's ledger behind one interface (`ports.LedgerStore`), in SQLite or PostgreSQL.

Constructing it (the composition root)::

    from seqmesh.runtime.cc.store import ledger_url, open_store
    store = await open_store(ledger_url(settings.ledger_url, settings.db_path), settings.durability)
    ...
    await store.close()

`ledger_url` picks, in order: the environment variable `SEQMESH_LEDGER_URL` (a Kubernetes
Secret sets it), the settings' `ledger_url`, else the SQLite file `db_path` as before.
URLs: `sqlite:///relative/path.sqlite`, `sqlite:////absolute/path.sqlite` (SQLAlchemy's
convention), `postgresql://user:password@host:5432/dbname?sslmode=require` (libpq's, as
asyncpg reads it; `postgres://` too). Opening applies the migrations the ledger lacks.

Using it from the domain (rules in `ports`)::

    store.save_parent(parent, "accepted")          # sync: appended to the open unit of work
    for child in children:
        store.save_child(child, "routed")
    await store.durable()                          # write-ahead: committed before any edge hears of it

    with store.atomic():                           # a batch of an edge's events, all or nothing
        if store.add_fill(fill):                   # True: new, book it in memory too
            ...
        store.save_child(child, "edge_event")
        store.set_cursor(venue, events[-1].seq)    # in the same unit as what it books
    store.commit_soon(0.002)                       # or await store.durable()

    live = await store.live_parents(TERMINAL)      # reads are async; they hold the parents'
    older = await store.parent(order_id)           # fill ids for add_fill ...
    store.release([p.order_id])                    # ... until the caller lets the parent go

Differences callers must not lean on: SQLite raises `StoreConflict` from the write that
breaks a constraint, PostgreSQL from that writer's `durable()`; SQLite's reads also see the
open unit, PostgreSQL's only what is committed (the CC reads what it holds from memory).
Never `await` inside `atomic()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .ports import LedgerStore, MarketSample, StoreConflict, StoredCredential, StoreUnavailable

ENV_URL = "SEQMESH_LEDGER_URL"


def ledger_url(configured: str | None, db_path: Path, env: Mapping[str, str] = os.environ) -> str:
    """The ledger's URL: `SEQMESH_LEDGER_URL`, else `configured`, else the SQLite file `db_path`."""
    return env.get(ENV_URL) or configured or f"sqlite:///{db_path}"


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///...` URL; None for another scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme != "sqlite":
        return None
    if not rest.startswith("/") or rest == "/":
        raise ValueError(f"a SQLite ledger URL is sqlite:///relative/path or sqlite:////absolute/path, got {url!r}")
    return Path(rest[1:])


def redacted(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def open_store(url: str, durability: str = "power-loss") -> LedgerStore:
    """Open (creating and migrating as needed) the ledger at `url`."""
    path = sqlite_path(url)
    if path is not None:
        from .sqlite import SqliteLedgerStore

        return SqliteLedgerStore(path, durability)
    if urlsplit(url).scheme in ("postgresql", "postgres"):
        from .postgres import PostgresLedgerStore  # asyncpg is imported only by regions that use it

        return await PostgresLedgerStore.open(url, durability)
    raise ValueError(f"ledger URL must start with sqlite:/// or postgresql://, got {redacted(url)!r}")


__all__ = ["ENV_URL", "LedgerStore", "MarketSample", "StoreConflict", "StoreUnavailable", "StoredCredential",
           "ledger_url", "open_store", "redacted", "sqlite_path"]
