"""An edge's wrapping key as another region sees it: sealed for only when that region's edge of
that venue signed it (seqmesh.common.vouching). Real certificates and keys, made here."""

from __future__ import annotations

from seqmesh.common.certs import Identity, issue_leaf, make_ca
from seqmesh.common.sealing import WrappingKey
from seqmesh.common.vouching import vouch, vouching_problem

EU_CA, AP_CA = make_ca("seqmesh eu CA"), make_ca("seqmesh ap CA")
EDGE = issue_leaf(EU_CA, Identity("eu", "edge", "binance"))
KEY = WrappingKey.generate().public_raw


def problem(leaf_pem: bytes, signature: bytes, key: bytes = KEY, venue: str = "binance",
            ca: bytes = EU_CA.cert_pem) -> str | None:
    return vouching_problem("eu", venue, key, leaf_pem, signature, ca)


def test_the_venues_edge_vouches() -> None:
    assert problem(EDGE.cert_pem, vouch("binance", KEY, EDGE.key_pem)) is None


def test_a_key_put_in_its_place_is_refused() -> None:
    signature = vouch("binance", KEY, EDGE.key_pem)
    other = WrappingKey.generate().public_raw  # what a relaying CC would announce instead
    assert "does not verify" in (problem(EDGE.cert_pem, signature, key=other) or "")
    assert "without" in (problem(b"", b"") or "")


def test_only_that_regions_edge_of_that_venue() -> None:
    cc = issue_leaf(EU_CA, Identity("eu", "cc", "main"))  # the relaying CC's own leaf
    assert "names seqmesh://eu/cc/main" in (problem(cc.cert_pem, vouch("binance", KEY, cc.key_pem)) or "")
    okx = issue_leaf(EU_CA, Identity("eu", "edge", "okx"))
    assert "not eu's edge of binance" in (problem(okx.cert_pem, vouch("binance", KEY, okx.key_pem)) or "")
    forged = issue_leaf(AP_CA, Identity("eu", "edge", "binance"))  # eu's name from another region's CA
    assert "not issued by the CA of region eu" in (problem(forged.cert_pem, vouch("binance", KEY, forged.key_pem))
                                                   or "")
    signed_for_okx = vouch("okx", KEY, EDGE.key_pem)  # the same edge's word for another venue
    assert "does not verify" in (problem(EDGE.cert_pem, signed_for_okx) or "")
