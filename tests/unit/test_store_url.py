"""Which ledger a CC opens: SEQMESH_LEDGER_URL, else its settings' ledger_url, else its SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from seqmesh.runtime.cc.config import CCSettings
from seqmesh.runtime.cc.store import ledger_url, open_store, redacted, sqlite_path
from seqmesh.runtime.cc.store.sqlite import SqliteLedgerStore


def test_the_environment_overrides_the_settings_which_override_the_sqlite_file() -> None:
    s = CCSettings(ca=Path("ca"), cert=Path("c"), key=Path("k"))
    assert s.ledger_url is None
    assert ledger_url(s.ledger_url, s.db_path, {}) == "sqlite:///.cache/cc/ledger.sqlite"
    assert ledger_url("postgresql://cc@db/na", s.db_path, {}) == "postgresql://cc@db/na"
    assert ledger_url("postgresql://cc@db/na", s.db_path, {"SEQMESH_LEDGER_URL": "postgresql://x@y/z"}) == \
        "postgresql://x@y/z"
    assert ledger_url(None, Path("/var/lib/cc/l.sqlite"), {}) == "sqlite:////var/lib/cc/l.sqlite"


def test_sqlite_urls_and_redaction() -> None:
    assert sqlite_path("sqlite:///rel/l.sqlite") == Path("rel/l.sqlite")
    assert sqlite_path("sqlite:////abs/l.sqlite") == Path("/abs/l.sqlite")
    assert sqlite_path("postgresql://h/db") is None
    with pytest.raises(ValueError, match="sqlite:///relative/path"):
        sqlite_path("sqlite://l.sqlite")
    assert redacted("postgresql://cc:s3cret@db:5432/na") == "postgresql://cc:***@db:5432/na"
    assert redacted("postgresql://cc@db/na") == "postgresql://cc@db/na"


async def test_open_store_picks_the_backend_and_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'x.sqlite'}", "process-crash")
    assert isinstance(store, SqliteLedgerStore)
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    await store.close()
    with pytest.raises(ValueError, match=r"must start with sqlite:/// or postgresql://, got 'mysql://u:\*\*\*@h/d'"):
        await open_store("mysql://u:pw@h/d")
    with pytest.raises(ValueError, match="durability must be one of"):
        await open_store(f"sqlite:///{tmp_path / 'y.sqlite'}", "never")
