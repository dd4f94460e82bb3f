"""The credential envelope: what opens, and what is refused (seqmesh.common.sealing)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from seqmesh.common.sealing import (
    SealBroken,
    WrappingKey,
    credential_aad,
    data_key_aad,
    seal_credential,
    unseal,
    wrap,
)


def _open(key: WrappingKey, client: str, venue: str, cid: str, wrapped: bytes, sealed: bytes) -> bytes:
    data_key = key.unwrap(wrapped, data_key_aad(client, venue, cid))
    return unseal(sealed, data_key, credential_aad(client, venue, cid))


def test_round_trip_and_rewrap() -> None:
    old, new = WrappingKey.generate(), WrappingKey.generate()
    s = seal_credential(b'{"key": "k", "secret": "s"}', "alice", "binance", "c1", old.public_raw)
    assert s.wrap_key_id == old.key_id and b"secret" not in s.sealed
    assert _open(old, "alice", "binance", "c1", s.wrapped_key, s.sealed) == b'{"key": "k", "secret": "s"}'
    # rewrap: the data key moves to the new key; the sealed credential stays as it is
    aad = data_key_aad("alice", "binance", "c1")
    rewrapped = wrap(old.unwrap(s.wrapped_key, aad), new.public_raw, aad)
    assert _open(new, "alice", "binance", "c1", rewrapped, s.sealed) == b'{"key": "k", "secret": "s"}'
    with pytest.raises(SealBroken):
        new.unwrap(s.wrapped_key, aad)  # the old wrapping is not the new key's


@pytest.mark.parametrize("where", ["sealed", "wrapped", "ephemeral", "client", "venue", "credential"])
def test_refused(where: str) -> None:
    key = WrappingKey.generate()
    s = seal_credential(b"{}", "alice", "binance", "c1", key.public_raw)
    sealed, wrapped = bytearray(s.sealed), bytearray(s.wrapped_key)
    client, venue, cid = "alice", "binance", "c1"
    if where == "sealed":
        sealed[-3] ^= 0x10
    elif where == "wrapped":
        wrapped[40] ^= 0x01
    elif where == "ephemeral":
        wrapped[:32] = bytes(32)  # a low-order point: no shared secret
    elif where == "client":
        client = "bob"
    elif where == "venue":
        venue = "okx"
    else:
        cid = "c2"
    with pytest.raises(SealBroken, match="failed authentication"):
        _open(key, client, venue, cid, bytes(wrapped), bytes(sealed))


def test_pem_round_trip_and_wrong_kind() -> None:
    key = WrappingKey.generate()
    assert WrappingKey.from_pem(key.to_pem()).key_id == key.key_id
    other = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption())
    with pytest.raises(ValueError, match="X25519"):
        WrappingKey.from_pem(other)
