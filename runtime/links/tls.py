"""mTLS for seqmesh's gRPC links: credentials from PEM files, reloaded when they rotate, and
the identities on both ends.

Each side presents a leaf issued by a CA the other side trusts. A server reads the client's
identity (region, role, name) from the leaf's SAN URI; a client names the server it expects by
its identity DNS name (`<role>.<region>.seqmesh.invalid`), which gRPC's hostname check compares
with the server's SANs. Servers pick up rotated files at their next handshake; clients watch
their files (`until_rotated`) and dial again with the new ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509

from seqmesh.common.certs import Identity, KeyPair, identity_of, key_matches, role_dns_name

log = logging.getLogger(__name__)
#: How often rotated files are looked for (a renewal is due days ahead: a second is plenty).
RELOAD_S = 1.0


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

    def region(self) -> str:
        """The region this process speaks for, from its own certificate."""
        ident = self.identity()
        if ident is None:
            raise ValueError(f"{self.cert} carries no seqmesh identity (a URI SAN seqmesh://<region>/<role>/<name>)")
        return ident.region

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return self.ca, self.cert, self.key

    def read(self) -> TlsMaterial:
        return TlsMaterial(self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes())


@dataclass(frozen=True)
class TlsMaterial:
    """What the files held at one reading."""

    ca: bytes
    cert: bytes
    key: bytes

    def consistent(self) -> bool:
        return key_matches(KeyPair(self.cert, self.key))


class _ServerCertificates:
    """gRPC's certificate fetcher: asked at every handshake, it re-reads the files (at most every
    `every_s`) and hands gRPC a new configuration when they changed. A key that does not match
    its certificate (a rotation caught between two writes) keeps the previous pair."""

    def __init__(self, files: TlsFiles, roots: Callable[[], bytes] | None, every_s: float) -> None:
        self.files, self.roots, self.every_s = files, roots, every_s
        self.lock = threading.Lock()  # gRPC may ask from several threads
        self.checked = 0.0
        first = self._read()
        if first is None:
            raise ValueError(f"{files.key} is not the private key of {files.cert}")
        self.current = first

    def _read(self) -> tuple[bytes, bytes, bytes] | None:
        got = self.files.read()
        if not got.consistent():
            return None
        return got.key, got.cert, self.roots() if self.roots is not None else got.ca

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        key, cert, roots = self.current
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=roots)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self.lock:
            now = time.monotonic()
            if now - self.checked < self.every_s:
                return None
            self.checked = now
            try:
                fresh = self._read()
            except OSError as exc:  # mid-swap: the next handshake looks again
                log.warning("TLS files unreadable (%s); keeping the current certificate", exc)
                return None
            if fresh is None:
                log.warning("%s does not match %s (mid-rotation?); keeping the current pair",
                            self.files.key, self.files.cert)
                return None
            if fresh == self.current:
                return None
            self.current = fresh
            log.info("TLS: serving the rotated certificate of %s", self.files.cert)
            return self.configuration()


def server_credentials(files: TlsFiles, roots: Callable[[], bytes] | None = None,
                       every_s: float = RELOAD_S) -> grpc.ServerCredentials:
    """mTLS server credentials that follow rotated files without a restart. `roots` gives the
    CA certificates clients must chain to (default: the `ca` file)."""
    files.check()
    fetch = _ServerCertificates(files, roots, every_s)
    # gRPC's own annotation says the fetcher never returns None; its documentation says None
    # keeps the current configuration, which is what `fetch` means by it.
    return grpc.dynamic_ssl_server_credentials(fetch.configuration(), fetch,  # type: ignore[arg-type]
                                               require_client_authentication=True)


def channel_credentials(files: TlsFiles, ca: bytes | None = None) -> grpc.ChannelCredentials:
    """Client credentials as the files are now (`ca`: trust these CAs instead of the `ca` file)."""
    files.check()
    return grpc.ssl_channel_credentials(
        root_certificates=ca if ca is not None else files.ca.read_bytes(),
        private_key=files.key.read_bytes(),
        certificate_chain=files.cert.read_bytes(),
    )


def expecting(region: str, role: str) -> list[tuple[str, str]]:
    """Channel options that accept only a server whose certificate names `role` of `region`."""
    return [("grpc.ssl_target_name_override", role_dns_name(region, role))]


def files_digest(paths: Sequence[Path]) -> bytes:
    """What `paths` hold now, in a few bytes (a missing file counts as a content)."""
    h = hashlib.sha256()
    for path in paths:
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"\0missing")
        h.update(b"\0")
    return h.digest()


async def until_rotated(paths: Sequence[Path], since: bytes | None = None, every_s: float = RELOAD_S) -> None:
    """Return once any of `paths` holds something else than `since` (their digest when the
    caller read them; default: now). A client then dials again with the new files; a Kubernetes
    Secret volume swaps them all at once."""
    first = files_digest(paths) if since is None else since
    while True:
        if files_digest(paths) != first:
            return
        await asyncio.sleep(every_s)


def peer_certificate(context: grpc.aio.ServicerContext[object, object]) -> x509.Certificate | None:
    """The client's certificate on an mTLS call."""
    for pem in context.auth_context().get("x509_pem_cert", []):
        return x509.load_pem_x509_certificate(pem)
    return None


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
    cert = peer_certificate(context)
    try:
        return identity_of(cert) if cert is not None else None
    except ValueError:
        return None
