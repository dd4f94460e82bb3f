"""Certificates for mTLS between seqmesh processes.

One CA per region (ECDSA P-256), leaf certificates whose SANs carry the identity: DNS names and
IPs for the endpoint, a URI `seqmesh://<region>/<role>/<name>` that servers read to tell a CC
from an edge, and the DNS name `<role>.<region>.seqmesh.invalid` that clients verify as the
server's name (gRPC's own hostname check then refuses a server of another role or region).
Used by `seqmesh certs` for local development and by the operator.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

URI_SCHEME = "seqmesh"
#: Identity DNS names end here: `.invalid` never resolves (RFC 2606), so they name, never locate.
IDENTITY_DOMAIN = "seqmesh.invalid"
ROLES = ("cc", "edge", "operator", "client")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_LIFETIME = dt.timedelta(days=90)
#: cert-manager's rule: renew once two thirds of the lifetime have passed.
RENEW_FRACTION = 2 / 3


@dataclass(frozen=True)
class Identity:
    """Who a leaf certificate speaks for."""

    region: str
    role: str  # one of ROLES
    name: str

    def __post_init__(self) -> None:
        for what, value in (("region", self.region), ("role", self.role), ("name", self.name)):
            if not _LABEL.match(value):
                raise ValueError(f"identity {what} must be a DNS label (a-z, 0-9, '-'), got {value!r}")
        if self.role not in ROLES:
            raise ValueError(f"identity role must be one of {', '.join(ROLES)}, got {self.role!r}")

    @property
    def uri(self) -> str:
        return f"{URI_SCHEME}://{self.region}/{self.role}/{self.name}"

    @property
    def dns_name(self) -> str:
        """The name a client expects of this server: its role and region (any instance)."""
        return role_dns_name(self.region, self.role)

    @classmethod
    def from_uri(cls, uri: str) -> Identity:
        prefix = f"{URI_SCHEME}://"
        if not uri.startswith(prefix):
            raise ValueError(f"not a seqmesh identity URI: {uri!r}")
        parts = uri[len(prefix) :].split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"identity URI must be {prefix}<region>/<role>/<name>: {uri!r}")
        return cls(region=parts[0], role=parts[1], name=parts[2])


def role_dns_name(region: str, role: str) -> str:
    """The identity DNS name of every `role` of `region` (a client dials with it as the expected name)."""
    return f"{role}.{region}.{IDENTITY_DOMAIN}"


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("seqmesh keys are ECDSA P-256")
        return key

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write `<stem>.crt` and `<stem>.key` atomically (key readable by the owner only)."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        _atomic_write(key_path, self.key_pem, mode=0o600)
        _atomic_write(cert_path, self.cert_pem, mode=0o644)
        return cert_path, key_path

    @classmethod
    def read(cls, directory: Path, stem: str) -> KeyPair:
        return cls((directory / f"{stem}.crt").read_bytes(), (directory / f"{stem}.key").read_bytes())


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(path)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(common_name: str, lifetime: dt.timedelta = dt.timedelta(days=3650)) -> KeyPair:
    """A self-signed CA (for a region, or any other trust domain)."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "seqmesh"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_leaf(
    ca: KeyPair,
    identity: Identity | None = None,
    *,
    common_name: str | None = None,
    dns_names: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = ("127.0.0.1",),
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
    organizations: tuple[str, ...] = (),
    server: bool = True,
    client: bool = True,
) -> KeyPair:
    """A leaf certificate signed by `ca`, usable for both ends of an mTLS link by default."""
    if lifetime <= dt.timedelta(0):
        raise ValueError("certificate lifetime must be positive")
    key = _new_key()
    ca_cert, ca_key = ca.cert, ca.private_key()
    cn = common_name or (f"{identity.role}.{identity.name}.{identity.region}" if identity else "seqmesh")
    subject_attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    subject_attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if identity is not None and identity.dns_name not in dns_names:
        dns_names = (*dns_names, identity.dns_name)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if identity is not None:
        sans.append(x509.UniformResourceIdentifier(identity.uri))
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject_attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def identity_of(cert: x509.Certificate) -> Identity | None:
    """The seqmesh identity in a certificate's SAN URIs, if it has one."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(f"{URI_SCHEME}://"):
            return Identity.from_uri(uri)
    return None


def issued_by_any(cert: x509.Certificate, bundle_pem: bytes) -> bool:
    """Whether `cert` is signed by one of the CA certificates in `bundle_pem` (a region's bundle
    may hold its old and new CA while it rotates)."""
    for ca in x509.load_pem_x509_certificates(bundle_pem):
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def key_matches(pair: KeyPair) -> bool:
    """Whether the private key is the certificate's (a rotation caught between its two writes is not)."""
    try:
        return pair.private_key().public_key() == pair.cert.public_key()
    except (ValueError, TypeError):
        return False


def renewal_due(cert: x509.Certificate, now: dt.datetime | None = None) -> dt.datetime:
    """When a certificate should be renewed: at 2/3 of its lifetime."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * RENEW_FRACTION


def needs_renewal(cert: x509.Certificate, now: dt.datetime | None = None) -> bool:
    return (now or _now()) >= renewal_due(cert)
