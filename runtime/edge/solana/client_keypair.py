"""A client's own Solana keypair, as its credential's `wallet_key` carries it.

solana-keygen writes a keypair as a JSON array of its 64 bytes (the ed25519 secret key, then the
public key); wallets export the same 64 bytes as base58. Either is taken; the public half must be
the one the secret derives. The keypair is kept in memory only and never printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from solders.keypair import Keypair


class BadKeypair(ValueError):
    """Not a Solana keypair (the message says why, never the key)."""


def parse_keypair(text: str) -> Keypair:
    text = text.strip()
    if text.startswith("["):
        try:
            numbers = json.loads(text)
            raw = bytes(numbers)  # ValueError unless every number is a byte
        except (ValueError, TypeError):
            raise BadKeypair("wallet_key as a JSON array must hold 64 numbers 0-255 (solana-keygen's file)") from None
    else:
        try:
            return Keypair.from_base58_string(text)
        except ValueError:
            raise BadKeypair("wallet_key must be a Solana keypair: its 64 bytes as base58, or as the JSON array "
                             "solana-keygen writes") from None
    if len(raw) != 64:
        raise BadKeypair(f"wallet_key must be a Solana keypair of 64 bytes, got {len(raw)}")
    try:
        return Keypair.from_bytes(raw)
    except ValueError:
        raise BadKeypair("wallet_key is not a keypair: its last 32 bytes are not the public key of the first 32") \
            from None


@dataclass(frozen=True)
class ClientTaker:
    """A client's keypair at the Solana edge, for its account."""

    account: str  # the client's credential id
    keypair: Keypair = field(repr=False)

    @property
    def address(self) -> str:
        return str(self.keypair.pubkey())
