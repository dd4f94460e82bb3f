"""The edge's wrapping keys and its sealed copies: rotation by adding a key file, rewrapping a
credential's data key for the current key (kept across a restart), refusal without the old key."""

from __future__ import annotations

from pathlib import Path

import pytest
from seqmesh.runtime.edge.credentials import ClientAccounts, CredentialRefused, WrappingKeyring, open_credential
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.common.sealing import WrappingKey, seal_credential


def _accounts(state: Path, keyring: WrappingKeyring) -> ClientAccounts:
    def never(_: object) -> object:
        raise AssertionError("no venue in this test")

    return ClientAccounts(state, keyring, "binance", never, never)  # type: ignore[arg-type]


def _sealed(keyring: WrappingKeyring) -> pb.SealedCredential:
    parts = seal_credential(b'{"key": "k", "secret": "s"}', "alice", "binance", "c1", keyring.current.public_raw)
    return pb.SealedCredential(credential_id="c1", client="alice", venue="binance", wrap_key_id=parts.wrap_key_id,
                               wrapped_key=parts.wrapped_key, sealed=parts.sealed)


def test_rotation_and_rewrap(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    ring = WrappingKeyring(keys, create=True)
    first = ring.current.key_id
    sealed = _sealed(ring)
    accounts = _accounts(tmp_path, ring)
    accounts._keep(sealed)  # as an install leaves it
    new = WrappingKey.generate()
    (keys / "0002.pem").write_bytes(new.to_pem())
    [rewrapped] = accounts.rewrap([sealed])
    assert ring.current.key_id == new.key_id != first and rewrapped.wrap_key_id == new.key_id
    assert rewrapped.sealed == sealed.sealed  # the credential itself is not touched
    accounts.store.db.close()
    (keys / "0001.pem").unlink()
    again = _accounts(tmp_path, WrappingKeyring(keys, create=False))  # a restart with the new key only
    assert again.sealed["c1"] == rewrapped
    assert open_credential(again.keyring, again.sealed["c1"]).secret == "s"
    with pytest.raises(CredentialRefused, match="does not hold"):
        open_credential(again.keyring, sealed)  # still wrapped for the retired key


def test_unreadable_directory_keeps_the_last_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    ring = WrappingKeyring(keys, create=True)
    current = ring.current.key_id
    (keys / "0001.pem").unlink()
    ring.refresh()
    assert ring.current.key_id == current
    with pytest.raises(ValueError, match="no wrapping key"):
        WrappingKeyring(tmp_path / "empty", create=False)
