"""mTLS for seqmesh's gRPC links: credentials from PEM files and the peer's identity.

Each side presents a leaf issued by a CA the other side trusts; the identity (region, role,
name) travels in the leaf's SAN URI, so a server can tell its CC from anything else that
holds a certificate of the same CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509

from seqmesh.common.certs import Identity, identity_of


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def check(self) -> TlsFiles:
        missing = [str(p) for p in (self.ca, self.cert, self.key) if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"TLS files missing: {', '.join(missing)}")
        return self

    def identity(self) -> Identity | None:
        return identity_of(x509.load_pem_x509_certificate(self.cert.read_bytes()))


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    files.check()
    return grpc.ssl_server_credentials(
        [(files.key.read_bytes(), files.cert.read_bytes())],
        root_certificates=files.ca.read_bytes(),
        require_client_auth=True,
    )


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    files.check()
    return grpc.ssl_channel_credentials(
        root_certificates=files.ca.read_bytes(),
        private_key=files.key.read_bytes(),
        certificate_chain=files.cert.read_bytes(),
    )


def peer_identity(context: grpc.aio.ServicerContext[object, object]) -> Identity | None:
    """The seqmesh identity of the client on the other end of an mTLS call."""
    auth = context.auth_context()
    for uri in auth.get("x509_subject_alternative_name", []):
        text = uri.decode() if isinstance(uri, bytes) else str(uri)
        if text.startswith("seqmesh://"):
            try:
                return Identity.from_uri(text)
            except ValueError:
                return None
    for pem in auth.get("x509_pem_cert", []):
        return identity_of(x509.load_pem_x509_certificate(pem))
    return None
