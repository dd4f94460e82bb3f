"""A client of the region as the CC knows it: an id, a role and the SHA-256 digest of its key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    TRADER = "trader"  # its own orders, positions, algos, credentials and kill switch
    ADMIN = "admin"  # also: the region's kill switch, other clients' risk, the client registry
    MONITOR = "monitor"  # reads /metrics and nothing else (a Prometheus scrape's key)


def key_digest(key: str) -> str:
    """What is kept of a key (a key the CC makes is 256 random bits: a fast hash is as strong as a slow one)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    role: Role
    key_sha256: str
    created_ns: int
    revoked_ns: int | None = None
    source: str = "api"  # "api" (kept in the ledger) or "config" (seeded by the settings)
    requests_per_s: float | None = None  # None: the region's default

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def active(self) -> bool:
        return self.revoked_ns is None

    def view(self) -> dict[str, object]:
        return {"client_id": self.client_id, "role": self.role.value, "source": self.source,
                "created_ns": self.created_ns, "revoked_ns": self.revoked_ns, "requests_per_s": self.requests_per_s,
                "key_sha256_prefix": self.key_sha256[:12]}
