"""The edge vouches for the wrapping key it announces (seqmesh.common.vouching): its TLS leaf
and that leaf key's signature over the venue and the key, read from the files the edge serves
with (so a rotated leaf vouches from then on), signed again only when key or leaf changed."""

from __future__ import annotations

import logging
from pathlib import Path

from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.common.vouching import vouch

log = logging.getLogger(__name__)


class KeyVoucher:
    def __init__(self, venue: str, cert: Path, key: Path) -> None:
        self.venue, self.cert, self.key = venue, cert, key
        self._last: tuple[bytes, bytes, bytes] | None = None  # (public key, leaf, signature)

    def __call__(self, public: pb.WrappingPublicKey) -> pb.WrappingPublicKey:
        """`public` with the leaf and signature (without them if the files cannot be read now)."""
        try:
            leaf = self.cert.read_bytes()
            if self._last is None or self._last[:2] != (public.public_key, leaf):
                self._last = (public.public_key, leaf, vouch(self.venue, public.public_key, self.key.read_bytes()))
        except (OSError, ValueError) as exc:  # a leaf being rotated: the next Info vouches again
            log.warning("wrapping key not vouched for: %s", exc)
            return public
        public.certificate, public.signature = self._last[1], self._last[2]
        return public
