"""Sealed credentials in the ledger, against both backends: SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from seqmesh.runtime.cc.store import LedgerStore, StoreConflict, StoredCredential, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LedgerStore]:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}" if request.param == "sqlite" else \
        str(request.getfixturevalue("postgres_dsn"))
    s = await open_store(url)
    yield s
    await s.close()


def cred(cid: str, client: str = "alice", venue: str = "binance", wrap: str = "k1") -> StoredCredential:
    return StoredCredential(cid, client, venue, "sha256:0011", ("read", "trade"), 5, wrap, "d3JhcHBlZA==",
                            "c2VhbGVk")


async def test_put_rewrap_delete(store: LedgerStore) -> None:
    await store.put_credential(cred("c1"))
    await store.put_credential(cred("c2", client="bob"))
    assert await store.credentials() == [cred("c1"), cred("c2", client="bob")]
    rewrapped = cred("c1", wrap="k2")
    await store.put_credential(rewrapped)  # the same id: a rewrap replaces the wrapped key
    assert (await store.credentials())[0] == rewrapped
    with pytest.raises(StoreConflict):  # one credential per client and venue
        await store.put_credential(cred("c3"))
    await store.delete_credential("c1")
    assert [c.credential_id for c in await store.credentials()] == ["c2"]
