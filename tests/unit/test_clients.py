"""The client registry over a real ledger (SQLite, and a real PostgreSQL server started by the
session's fixture), and the per-client request limiter."""

from __future__ import annotations

from pathlib import Path

import pytest
from seqmesh.runtime.cc.api.ratelimit import RequestLimiter, retry_after
from seqmesh.runtime.cc.clients import ClientRegistry
from seqmesh.runtime.cc.config import DEV_KEY_SHA256, CCSettings, ClientSeed
from seqmesh.runtime.cc.domain import Role, key_digest
from seqmesh.runtime.cc.errors import OrderError
from seqmesh.runtime.cc.store import open_store


async def test_clients_made_by_the_api_survive_a_restart_by_digest_only(url: str, tmp_path: Path) -> None:
    store = await open_store(url)
    seeds = CCSettings.model_validate({"ca": "x", "cert": "x", "key": "x"}).clients
    assert [(s.id, s.role, s.key_sha256) for s in seeds] == [("dev", "admin", DEV_KEY_SHA256)]
    reg = await ClientRegistry.load(store, seeds)
    assert reg.authenticate("seqmesh-dev-key") is not None and reg.authenticate("seqmesh-dev-key ") is None
    alice, key = await reg.create("alice", Role.TRADER)
    assert reg.authenticate(key) == alice and alice.key_sha256 == key_digest(key)
    with pytest.raises(OrderError) as err:
        await reg.create("alice", Role.ADMIN)
    assert err.value.code == "CLIENT_EXISTS" and err.value.status == 409
    with pytest.raises(OrderError) as err:
        await reg.create("Bad Id", Role.TRADER)
    assert err.value.code == "INVALID_CLIENT_ID"
    with pytest.raises(OrderError) as err:
        await reg.revoke("dev")
    assert err.value.code == "CLIENT_FROM_CONFIG"
    await store.close()
    if url.startswith("sqlite"):
        assert key.encode() not in (tmp_path / "ledger.sqlite").read_bytes()

    store = await open_store(url)
    reg = await ClientRegistry.load(store, [])  # the settings' dev is gone with the settings
    assert reg.authenticate("seqmesh-dev-key") is None
    assert reg.authenticate(key) is not None
    revoked = await reg.revoke("alice")
    assert revoked.revoked_ns is not None and reg.authenticate(key) is None
    await store.close()
    store = await open_store(url)
    reg = await ClientRegistry.load(store, [])
    assert reg.authenticate(key) is None and reg.get("alice").revoked_ns is not None
    await store.close()


async def test_a_seed_wins_over_a_stored_client_and_keys_are_unique(url: str) -> None:
    store = await open_store(url)
    # a hosted child keeps its origin's client until it is final
    store.add_remote_child("eu1-0", "eu", "okx", "alice")
    store.add_remote_child("eu1-1", "eu", "okx", "bob")
    await store.durable()
    store.finish_remote_child("eu1-1")
    await store.durable()
    assert await store.remote_child_clients() == {"eu1-0": "alice"}
    reg = await ClientRegistry.load(store, [])
    _, key = await reg.create("ops", Role.TRADER)
    reg = await ClientRegistry.load(store, [ClientSeed(id="ops", role="admin", key_sha256=key_digest("other"))])
    assert reg.get("ops").is_admin and reg.authenticate(key) is None and reg.authenticate("other") is not None
    with pytest.raises(ValueError, match="has the key of another client"):
        await ClientRegistry.load(store, [ClientSeed(id="a", key_sha256=DEV_KEY_SHA256),
                                          ClientSeed(id="b", key_sha256=DEV_KEY_SHA256)])
    await store.close()


def test_the_limiter_paces_each_client_on_its_own() -> None:
    now = [100.0]
    limiter = RequestLimiter(lambda: now[0])
    assert [limiter.take("a", 2, 2) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take("a", 2, 2)
    assert wait == pytest.approx(0.5) and retry_after(wait) == "1"
    assert limiter.take("b", 2, 2) == 0.0  # another client's bucket is full
    now[0] += 0.5
    assert limiter.take("a", 2, 2) == 0.0
    assert limiter.take("slow", 0.1, 1) == 0.0 and retry_after(limiter.take("slow", 0.1, 1)) == "10"


def test_a_mounted_keys_secret_is_read_as_digests(tmp_path: Path) -> None:
    from seqmesh.runtime.cc.cli import _clients_from_dir

    (tmp_path / "alice").write_text("smk_alice\n")
    (tmp_path / "ops.admin").write_text("smk_ops")
    (tmp_path / "bob").write_text(f"sha256:{key_digest('smk_bob')}")
    (tmp_path / ".hidden").write_text("ignored")
    seeds = {s.id: s for s in _clients_from_dir(str(tmp_path))}
    assert {k: (s.role, s.key_sha256) for k, s in seeds.items()} == {
        "alice": ("trader", key_digest("smk_alice")), "ops": ("admin", key_digest("smk_ops")),
        "bob": ("trader", key_digest("smk_bob"))}
