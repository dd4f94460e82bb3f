"""A client's Solana keypair as its credential carries it: solana-keygen's JSON array or base58,
the public half checked against the secret; refusals never show the key."""

from __future__ import annotations

import pytest
from seqmesh.runtime.edge.solana.client_keypair import BadKeypair, ClientTaker, parse_keypair
from solders.keypair import Keypair


def test_either_form_gives_the_same_keypair() -> None:
    kp = Keypair()
    assert parse_keypair(kp.to_json()) == kp  # as solana-keygen writes the file
    assert parse_keypair(f"  {kp}\n") == kp  # base58, as wallets export it
    assert parse_keypair(str(list(bytes(kp)))) == kp  # a JSON array with spaces


@pytest.mark.parametrize(("text", "words"), [
    ("[1, 2, 3]", "64 bytes, got 3"),
    ("[300" + ", 1" * 63 + "]", "64 numbers 0-255"),
    ("[1, 2", "64 numbers 0-255"),
    ("not base58!", "64 bytes as base58"),
    (str(Keypair.from_seed(bytes(range(32))))[:40], "64 bytes as base58"),  # fixed: xdist workers collect alike
])
def test_what_is_not_a_keypair_is_refused_saying_why(text: str, words: str) -> None:
    with pytest.raises(BadKeypair, match=words):
        parse_keypair(text)


def test_a_public_half_of_another_key_is_refused_without_showing_either() -> None:
    secret = bytes(Keypair())[:32]
    other = bytes(Keypair().pubkey())
    with pytest.raises(BadKeypair, match="not the public key") as refused:
        parse_keypair(str(list(secret + other)))
    assert str(list(secret))[1:-1] not in str(refused.value)


def test_the_secret_is_never_in_the_repr() -> None:
    kp = Keypair()
    taker = ClientTaker("cred-1", kp)
    assert str(kp) not in repr(taker) and taker.address == str(kp.pubkey())
