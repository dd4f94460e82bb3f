"""The region's clients: who may call the API, with which role, known by the hash of their key.

A key is never kept: the registry holds SHA-256 digests of keys (a key the CC makes is 256
random bits, so a fast hash is as strong as a slow one), finds a caller by the digest of the
key it sent and confirms it with a constant-time comparison. Clients come from two places:
the settings (seeds: the operator's Secret, `seqmesh up`'s development client; changed there,
not through the API) and the admin API (stored in the ledger's `clients` table).
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from .config import ClientSeed
from .domain import ClientRecord, Role, key_digest
from .errors import OrderError

if TYPE_CHECKING:
    from .store import LedgerStore

CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
#: prefix of the keys the CC makes: says what a leaked string is (secret scanners can match it)
KEY_PREFIX = "smk_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ClientRegistry:
    """Every client of the region, by key digest; the ledger keeps the ones made through the API."""

    def __init__(self, store: LedgerStore, seeds: list[ClientSeed], stored: list[ClientRecord]) -> None:
        self.store = store
        self.by_id: dict[str, ClientRecord] = {}
        #: told of a revocation at once, to end what the key opened (a stream outlives its handshake)
        self.on_revoke: list[Callable[[str], None]] = []
        for s in seeds:
            self._add(ClientRecord(s.id, Role(s.role), s.key_sha256.lower(), 0, source="config",
                                   requests_per_s=s.requests_per_s))
        for r in stored:
            if r.client_id in self.by_id:  # the settings name it now: they win
                continue
            self._add(r)

    @classmethod
    async def load(cls, store: LedgerStore, seeds: list[ClientSeed]) -> ClientRegistry:
        return cls(store, seeds, await store.clients())

    def _add(self, r: ClientRecord) -> None:
        if any(o.key_sha256 == r.key_sha256 for o in self.by_id.values()):
            raise ValueError(f"client {r.client_id!r} has the key of another client")
        self.by_id[r.client_id] = r
        self._index()

    def _index(self) -> None:
        self._by_digest = {r.key_sha256: r for r in self.by_id.values() if r.revoked_ns is None}

    def authenticate(self, key: str) -> ClientRecord | None:
        """The active client whose key this is, or None."""
        digest = key_digest(key)
        found = self._by_digest.get(digest)
        if found is None or not hmac.compare_digest(found.key_sha256, digest):
            return None
        return found

    def get(self, client_id: str) -> ClientRecord:
        found = self.by_id.get(client_id)
        if found is None:
            raise OrderError("CLIENT_NOT_FOUND", f"no client {client_id!r}", 404)
        return found

    async def create(self, client_id: str, role: Role, requests_per_s: float | None = None) -> tuple[ClientRecord, str]:
        """A new client and its key (shown once: only its digest is kept)."""
        if not CLIENT_ID.match(client_id):
            raise OrderError("INVALID_CLIENT_ID", f"client id {client_id!r} must be 1-63 of [a-z0-9._-], starting "
                             "with a letter or digit")
        if client_id in self.by_id:
            raise OrderError("CLIENT_EXISTS", f"client {client_id!r} exists (a revoked id is not reused)", 409)
        key = new_key()
        record = ClientRecord(client_id, role, key_digest(key), time.time_ns(), requests_per_s=requests_per_s)
        self.store.save_client(record)
        await self.store.durable()
        self._add(record)
        return record, key

    async def revoke(self, client_id: str) -> ClientRecord:
        record = self.get(client_id)
        if record.source == "config":
            raise OrderError("CLIENT_FROM_CONFIG", f"client {client_id!r} comes from the region's settings: remove "
                             "it there", 409)
        if record.revoked_ns is None:
            record = replace(record, revoked_ns=time.time_ns())
            self.store.save_client(record)
            await self.store.durable()
            self.by_id[client_id] = record
            self._index()
            for listener in self.on_revoke:
                listener(client_id)
        return record

    def clients(self) -> list[ClientRecord]:
        return [self.by_id[c] for c in sorted(self.by_id)]
