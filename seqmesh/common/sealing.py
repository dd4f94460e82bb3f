"""Sealed venue credentials: the envelope the CC writes and only a venue's edges can open.

A credential (API key, secret, passphrase or wallet key) is sealed with AES-256-GCM under a
data key of its own, made for that client's credential and never stored in the clear; the
associated data binds the client, the venue and the credential id, so a sealed blob moved to
another row or client fails to open. The data key is wrapped for the venue's edges: an
ephemeral X25519 agreement with the edges' wrapping public key, HKDF-SHA256 to a key-
encryption key, AES-256-GCM over the data key (bound to the same client and venue). The CC
holds only public wrapping keys, so it can seal but never open; an edge holding the private
key unwraps in memory, and can rewrap for a newer key of its own without the plaintext ever
leaving it.

Formats (bytes): sealed = nonce(12) || ciphertext+tag; wrapped = ephemeral public(32) ||
nonce(12) || ciphertext+tag.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12
_PUBLIC = 32
_WRAP_INFO = b"seqmesh credential data key wrap v1"


class SealBroken(ValueError):
    """A sealed credential or wrapped key failed authentication: tampered with, or sealed for
    another client, venue, credential or wrapping key."""


def key_id(public_raw: bytes) -> str:
    """A wrapping key's name: the first 16 hex digits of SHA-256 of its raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def credential_aad(client: str, venue: str, credential_id: str) -> bytes:
    return f"seqmesh-credential/v1\0{client}\0{venue}\0{credential_id}".encode()


def data_key_aad(client: str, venue: str, credential_id: str) -> bytes:
    return f"seqmesh-data-key/v1\0{client}\0{venue}\0{credential_id}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(plaintext: bytes, data_key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def unseal(sealed: bytes, data_key: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
    except (InvalidTag, ValueError):
        raise SealBroken("the sealed credential failed authentication (tampered with, or sealed for another "
                         "client, venue or credential)") from None


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=ephemeral + recipient, info=_WRAP_INFO).derive(shared)


def wrap(data_key: bytes, recipient_public_raw: bytes, aad: bytes) -> bytes:
    """`data_key` wrapped so that only the holder of the recipient's private key unwraps it."""
    recipient = X25519PublicKey.from_public_bytes(recipient_public_raw)
    ephemeral = X25519PrivateKey.generate()
    eph_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kek = _kek(ephemeral.exchange(recipient), eph_raw, recipient_public_raw)
    nonce = os.urandom(_NONCE)
    return eph_raw + nonce + AESGCM(kek).encrypt(nonce, data_key, aad)


@dataclass(frozen=True)
class SealedCredential:
    """A credential as the CC sends and keeps it."""

    wrap_key_id: str
    wrapped_key: bytes
    sealed: bytes


def seal_credential(plaintext: bytes, client: str, venue: str, credential_id: str,
                    recipient_public_raw: bytes) -> SealedCredential:
    """`plaintext` sealed under a fresh data key, that key wrapped for the recipient; the data key
    goes out of scope here: nobody who holds only the result can open it without the private key."""
    data_key = new_data_key()
    return SealedCredential(key_id(recipient_public_raw),
                            wrap(data_key, recipient_public_raw, data_key_aad(client, venue, credential_id)),
                            seal(plaintext, data_key, credential_aad(client, venue, credential_id)))


@dataclass(frozen=True)
class WrappingKey:
    """An edge's X25519 wrapping key pair (the private half never leaves the edge)."""

    private: X25519PrivateKey

    @classmethod
    def generate(cls) -> WrappingKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> WrappingKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, X25519PrivateKey):
            raise ValueError("a wrapping key must be an X25519 private key (PEM, PKCS#8)")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        if len(wrapped) < _PUBLIC + _NONCE + 16:
            raise SealBroken("the wrapped data key is truncated")
        eph_raw, nonce, body = wrapped[:_PUBLIC], wrapped[_PUBLIC:_PUBLIC + _NONCE], wrapped[_PUBLIC + _NONCE:]
        try:
            kek = _kek(self.private.exchange(X25519PublicKey.from_public_bytes(eph_raw)), eph_raw, self.public_raw)
            return AESGCM(kek).decrypt(nonce, body, aad)
        except (InvalidTag, ValueError):  # ValueError: an ephemeral key of low order (a forged one)
            raise SealBroken("the wrapped data key failed authentication (tampered with, or wrapped for another "
                             "key, client or venue)") from None
