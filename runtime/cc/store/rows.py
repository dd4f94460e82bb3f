"""Rows to domain objects, for both dialects: SQLite hands back TEXT amounts, 0/1 flags and
JSON text; PostgreSQL NUMERIC (already Decimal), booleans and JSONB text. `Decimal(x)` and
`bool(x)` take either."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from seqmesh.runtime.cc.domain import (
    Child,
    ChildState,
    ClientRecord,
    Fill,
    OrderType,
    Parent,
    ParentState,
    Role,
    Side,
)

from .ports import MarketSample, StoredCredential


class Row(Protocol):
    """A result row of either driver (a tuple, an asyncpg Record), read by position."""

    def __getitem__(self, index: int, /) -> Any: ...


PARENT_COLUMNS = ("order_id, client, client_order_id, symbol, side, type, qty, price, state, reason,"
                  " cancel_requested, reroutes, decision, created_ns, updated_ns")
CHILD_COLUMNS = ("child_id, parent_id, venue, qty, price, type, state, venue_order_id, filled, cum_quote,"
                 " reason, sent, last_seq, created_ns, updated_ns")
FILL_COLUMNS = ("fill_id, child_id, parent_id, venue, symbol, side, price, qty, fee, fee_asset, maker,"
                " exchange_ts, booked_ns")
ALGO_FILL_COLUMNS = ("client, fill_id, order_id, algo, venue, symbol, side, price, qty, fee, fee_asset, maker,"
                     " exchange_ts, booked_ns")
SAMPLE_COLUMNS = "ts_ns, venue, symbol, kind, price, qty"
CREDENTIAL_COLUMNS = ("credential_id, client, venue, key_fingerprint, permissions, created_ns, wrap_key_id,"
                      " wrapped_key, sealed")
CLIENT_COLUMNS = "client_id, role, key_sha256, requests_per_s, created_ns, revoked_ns"


def _dec(v: Any) -> Decimal | None:
    return None if v is None or v == "" else Decimal(v)


def parent(r: Row) -> Parent:
    return Parent(r[0], r[1], r[2] or "", r[3], Side(r[4]), OrderType(r[5]), Decimal(r[6]), _dec(r[7]),
                  ParentState(r[8]), r[13], r[14], r[9], bool(r[10]), r[11], json.loads(r[12]))


def child(r: Row) -> Child:
    return Child(r[0], r[1], r[2], Decimal(r[3]), _dec(r[4]), OrderType(r[5]), ChildState(r[6]), r[7], Decimal(r[8]),
                 Decimal(r[9]), r[10], bool(r[11]), r[12], r[13], r[14])


def fill(r: Row) -> Fill:
    return Fill(r[0], r[1], r[2], r[3], r[4], Side(r[5]), Decimal(r[6]), Decimal(r[7]), Decimal(r[8]), r[9],
                bool(r[10]), r[11], r[12])


def algo_fill(r: Row) -> tuple[str, Fill]:
    """(client, fill) from ALGO_FILL_COLUMNS: the fill's parent id names the algo ("algo:NAME")."""
    return r[0], Fill(r[1], r[2], f"algo:{r[3]}", r[4], r[5], Side(r[6]), Decimal(r[7]), Decimal(r[8]),
                      Decimal(r[9]), r[10], bool(r[11]), r[12], r[13])


def event(r: Row) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(r[4])
    return {"seq": r[0], "ts": r[1], "kind": r[2], "ref": r[3], **body}


def sample(r: Row) -> MarketSample:
    return MarketSample(r[0], r[1], r[2], r[3], Decimal(r[4]), Decimal(r[5]))


def credential(r: Row) -> StoredCredential:
    return StoredCredential(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), int(r[5]), r[6], r[7], r[8])


def credential_row(c: StoredCredential) -> tuple[Any, ...]:
    return (c.credential_id, c.client, c.venue, c.key_fingerprint, json.dumps(list(c.permissions)), c.created_ns,
            c.wrap_key_id, c.wrapped_key, c.sealed)


def client(r: Row) -> ClientRecord:
    return ClientRecord(r[0], Role(r[1]), r[2], int(r[4]), None if r[5] is None else int(r[5]),
                        requests_per_s=None if r[3] is None else float(r[3]))


def client_row(c: ClientRecord) -> tuple[Any, ...]:
    return (c.client_id, c.role.value, c.key_sha256, c.requests_per_s, c.created_ns, c.revoked_ns)


def assemble(parents: Sequence[Row], children: Sequence[Row], fills: Sequence[Row]) -> dict[str, Parent]:
    """Parents (oldest first) with their children and fills, from rows of the three tables."""
    out = {r[0]: parent(r) for r in parents}
    for r in children:
        out[r[1]].children.append(child(r))
    for r in fills:
        out[r[2]].fills.append(fill(r))
    return out
