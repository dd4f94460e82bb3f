"""An edge's wrapping key, vouched for by the edge itself (docs/security.md, "Across regions").

Another region sees a venue's wrapping key only as that venue's CC relays it. So that this CC
cannot put a key of its own in its place (and open what clients seal for the venue), the edge
signs its key with its TLS leaf's private key and sends the leaf along. A CC sealing for the
venue checks that the leaf is issued by the venue region's CA, names that region's edge of that
venue (`seqmesh://<region>/edge/<venue>`), is valid now, and signed the key. A CC holds no edge
leaf's private key, and cannot issue one.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .certs import identity_of, issued_by_any

CONTEXT = b"seqmesh-wrapping-key/v1"


def _message(venue: str, public_raw: bytes) -> bytes:
    return b"\0".join((CONTEXT, venue.encode(), public_raw))


def vouch(venue: str, public_raw: bytes, leaf_key_pem: bytes) -> bytes:
    """The edge's signature (ECDSA P-256, SHA-256) over its venue and wrapping public key."""
    key = serialization.load_pem_private_key(leaf_key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the edge's TLS key is not an EC key: it cannot vouch for its wrapping key")
    return key.sign(_message(venue, public_raw), ec.ECDSA(hashes.SHA256()))


def vouching_problem(region: str, venue: str, public_raw: bytes, leaf_pem: bytes, signature: bytes,
                     ca_bundle_pem: bytes) -> str | None:
    """Why `public_raw` is not vouched for by `region`'s edge of `venue` (None when it is)."""
    if not leaf_pem or not signature:
        return "it comes without its edge's certificate and signature"
    try:
        leaf = x509.load_pem_x509_certificate(leaf_pem)
    except ValueError:
        return "its edge's certificate does not parse"
    if not issued_by_any(leaf, ca_bundle_pem):
        return f"its certificate is not issued by the CA of region {region}"
    who = identity_of(leaf)
    if who is None or (who.region, who.role, who.name) != (region, "edge", venue):
        return f"its certificate names {who.uri if who else 'no seqmesh identity'}, not {region}'s edge of {venue}"
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        return "its certificate is not valid now"
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return "its certificate's key is not an EC key"
    try:
        public.verify(signature, _message(venue, public_raw), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not verify (the key is not the one the edge signed)"
    return None
