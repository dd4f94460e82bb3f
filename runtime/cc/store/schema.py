"""The ledger's migrations, read from `migrations/` in version order for one SQL dialect.

`NNNN_name.sql` serves every dialect; `NNNN_name.sqlite.sql` / `NNNN_name.postgresql.sql`
stand in for it where the dialects differ. Versions run 1, 2, 3, ... without gaps; each is
applied once, in its own transaction, and recorded in `schema_version`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

DIALECTS = ("sqlite", "postgresql")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgresql))?\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """Every migration for `dialect`, oldest first."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
    found: dict[int, dict[str | None, tuple[str, str]]] = {}
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m is None:
            if entry.name.endswith(".sql"):
                raise ValueError(f"migration file {entry.name!r} is not named NNNN_name[.dialect].sql")
            continue
        found.setdefault(int(m[1]), {})[m[3]] = (m[2], entry.read_text(encoding="utf-8"))
    out: list[Migration] = []
    for version in sorted(found):
        if version != len(out) + 1:
            raise ValueError(f"migrations jump from {len(out)} to {version}")
        variants = found[version]
        name, sql = variants.get(dialect) or variants.get(None) or ("", "")
        if not sql:
            raise ValueError(f"migration {version:04d} has no file for {dialect} and no dialect-neutral one")
        out.append(Migration(version, name, sql))
    return out


#: the table that records what was applied (created before the first migration)
VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_ns BIGINT NOT NULL)")
