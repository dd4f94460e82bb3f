"""Which origin region forwarded which client account to our venues (docs/security.md, "Across
regions"), kept in the ledger so a restarted CC still knows: against both backends."""

from __future__ import annotations

import pytest
from seqmesh.runtime.cc.store import open_store


async def test_forwarded_accounts_outlive_the_store_and_removals_stay_removed(url: str) -> None:
    store = await open_store(url)
    with store.atomic():
        store.add_forwarded_credential("cred-a", "na", "alice", "binance")
        store.add_forwarded_credential("cred-b", "ap", "bob", "binance")
    await store.durable()
    store.add_forwarded_credential("cred-a", "na", "alice", "binance")  # forwarded again after a link came up
    store.remove_forwarded_credential("cred-b")
    # installed and removed in one unit (coalesced on PostgreSQL: its last write wins), and the reverse
    store.add_forwarded_credential("cred-c", "na", "carol", "okx")
    store.remove_forwarded_credential("cred-c")
    store.remove_forwarded_credential("cred-d")
    store.add_forwarded_credential("cred-d", "ap", "dave", "okx")
    store.remove_forwarded_credential("nobody")  # never forwarded: nothing to remove
    await store.durable()
    await store.close()

    again = await open_store(url)
    try:
        assert await again.forwarded_credentials() == {"cred-a": ("na", "alice", "binance"),
                                                       "cred-d": ("ap", "dave", "okx")}
        assert [(e["kind"], e["ref"]) for e in await again.events("cred-b")] == [
            ("forwarded_credential", "cred-b"), ("forwarded_credential_removed", "cred-b")]
    finally:
        await again.close()


async def test_a_dropped_block_forwards_nothing(url: str) -> None:
    store = await open_store(url)
    try:
        with pytest.raises(RuntimeError, match="edge refused"), store.atomic():
            store.add_forwarded_credential("cred-x", "na", "alice", "binance")
            raise RuntimeError("edge refused")
        store.add_forwarded_credential("cred-y", "na", "bob", "binance")
        await store.durable()
        assert await store.forwarded_credentials() == {"cred-y": ("na", "bob", "binance")}
        assert await store.events("cred-x") == []
    finally:
        await store.close()
