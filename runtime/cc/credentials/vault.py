"""The CC's side of clients' venue credentials (docs/security.md, "Credentials").

The CC seals a credential the moment it arrives (`seqmesh.common.sealing`: AES-256-GCM under a
fresh data key, bound to client, venue and credential id) and wraps the data key for the public
wrapping key the venue's edge announces in its `Info`; it keeps neither the plaintext nor the data
key, and stores only the sealed blob and the wrapped key. The edge opens the credential, asks the
venue what the key may do (one that can withdraw is refused: seqmesh is non-custodial), and only
then is it stored. A client's orders then name the credential as their venue account.

On every (re)connection of an edge the CC brings it up to date: data keys wrapped for an older
key of the edge's are rewrapped by the edge for its current one (the credentials are never
entered again), and every credential of the venue is installed there (an edge with a fresh state
directory learns them again).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping

import grpc
import orjson
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.common.sealing import seal_credential

from ..edges import EdgeLink
from ..errors import OrderError
from ..mesh.peers import PeerMesh
from ..store import LedgerStore, StoreConflict, StoredCredential
from .remote import RemoteCredentials

log = logging.getLogger(__name__)
#: how long the edge may take to open a credential and ask the venue about it
INSTALL_TIMEOUT_S = 30.0


def fingerprint(api_key: str) -> str:
    """What identifies a key in listings without showing it."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _sealed(c: StoredCredential) -> pb.SealedCredential:
    return pb.SealedCredential(credential_id=c.credential_id, client=c.client, venue=c.venue,
                               wrap_key_id=c.wrap_key_id, wrapped_key=base64.b64decode(c.wrapped_key),
                               sealed=base64.b64decode(c.sealed))


class CredentialVault:
    def __init__(self, store: LedgerStore, edges: Mapping[str, EdgeLink],
                 has_live_orders: Callable[[str, str], bool], mesh: PeerMesh | None = None) -> None:
        self.store = store
        self.edges = edges
        #: venues of other regions: credentials forwarded to their home CCs
        self.remote = None if mesh is None else RemoteCredentials(mesh, self.sealed_for, self.rewrapped)
        self.has_live_orders = has_live_orders  # (client, venue): orders there not yet final
        self.by_id: dict[str, StoredCredential] = {}
        self._accounts: dict[tuple[str, str], str] = {}
        #: venue -> (its link's connection count, its wrapping key id, our credentials there) when last synced
        self._synced: dict[str, tuple[int, str, frozenset[str]]] = {}

    async def load(self) -> None:
        for c in await self.store.credentials():
            self._remember(c)

    def _remember(self, c: StoredCredential) -> None:
        self.by_id[c.credential_id] = c
        self._accounts[(c.client, c.venue)] = c.credential_id

    def account(self, client: str, venue: str) -> str:
        """The venue account a client's order trades on: its credential's id, or "" (the edge's shared one)."""
        return self._accounts.get((client, venue), "")

    def sealed_for(self, venue: str) -> list[pb.SealedCredential]:
        return [_sealed(c) for c in self.by_id.values() if c.venue == venue]

    def of_client(self, client: str) -> list[StoredCredential]:
        return [c for c in self.by_id.values() if c.client == client]

    def owned(self, client: str, credential_id: str) -> StoredCredential:
        c = self.by_id.get(credential_id)
        if c is None or c.client != client:  # another client's credential does not exist for you
            raise OrderError("CREDENTIAL_NOT_FOUND", f"no credential {credential_id!r}", 404)
        return c

    def _link(self, venue: str) -> tuple[EdgeLink, pb.WrappingPublicKey]:
        link = self.edges.get(venue)
        if link is None:
            raise OrderError("UNKNOWN_VENUE", f"venue {venue!r} has no edge in this region (see GET /v1/edges)", 404)
        if not link.connected or link.info is None:
            raise OrderError("VENUE_UNAVAILABLE", f"the edge of {venue} is not connected: try again later", 503)
        if not link.info.HasField("wrapping_key") or not link.info.wrapping_key.public_key:
            raise OrderError("CREDENTIALS_UNSUPPORTED", f"venue {venue} takes no per-client credentials", 400)
        return link, link.info.wrapping_key

    async def add(self, client: str, venue: str, api_key: str, secret: str, passphrase: str = "",
                  wallet_key: str = "") -> StoredCredential:
        """Seal, have the venue's edge check and install, then store a client's credential."""
        if (client, venue) in self._accounts:
            raise OrderError("CREDENTIAL_EXISTS", f"you have a credential for {venue} already "
                             f"({self._accounts[(client, venue)]}): delete it first", 409)
        remote = self.remote if venue not in self.edges and self.remote and self.remote.hosts(venue) else None
        link, public = (None, remote.public_key(venue)) if remote is not None else self._link(venue)
        cid = "cred-" + secrets.token_hex(8)
        sealed_parts = seal_credential(orjson.dumps({"key": api_key, "secret": secret, "passphrase": passphrase,
                                                     "wallet_key": wallet_key}), client, venue, cid, public.public_key)
        if sealed_parts.wrap_key_id != public.key_id:
            raise OrderError("VENUE_UNAVAILABLE", f"the edge of {venue} announced a malformed wrapping key", 503)
        sealed = pb.SealedCredential(credential_id=cid, client=client, venue=venue,
                                     wrap_key_id=sealed_parts.wrap_key_id, wrapped_key=sealed_parts.wrapped_key,
                                     sealed=sealed_parts.sealed)
        if remote is not None:
            installed = await remote.install(sealed, check=True)  # forwarded to the venue's home region
        else:
            assert link is not None
            installed = await self._install(link, sealed)
        # a wallet is known by its address (the edge derives it from the key): no API key there
        stored = StoredCredential(cid, client, venue, fingerprint(installed.address or api_key),
                                  tuple(installed.permissions),
                                  time.time_ns(), sealed.wrap_key_id, base64.b64encode(sealed.wrapped_key).decode(),
                                  base64.b64encode(sealed.sealed).decode())
        try:
            await self.store.put_credential(stored)
        except StoreConflict:  # the same client raced itself: the other one stands
            await self._forget(client, venue, cid)
            raise OrderError("CREDENTIAL_EXISTS", f"you have a credential for {venue} already", 409) from None
        except BaseException:
            await self._forget(client, venue, cid)
            raise
        self._remember(stored)
        log.info("credential %s of %s for %s stored (key %s)", cid, client, venue, stored.key_fingerprint)
        if link is None:  # another region's venue: its home announces the account's balances to us
            return stored
        try:  # routing caps the client's orders there by this account's balance: known from now on
            await link.refresh_balances()
        except (grpc.aio.AioRpcError, ConnectionError) as exc:  # the next poll brings it; until then the venue
            log.warning("balances of %s after installing %s: %s", venue, cid, exc)  # takes none of their orders
        return stored

    async def delete(self, client: str, credential_id: str) -> None:
        c = self.owned(client, credential_id)
        if self.has_live_orders(client, c.venue):
            raise OrderError("CREDENTIAL_IN_USE", f"you have orders at {c.venue} not yet final on this credential: "
                             "cancel them (or wait for them to end) first", 409)
        await self.store.delete_credential(credential_id)
        self.by_id.pop(credential_id, None)
        self._accounts.pop((c.client, c.venue), None)
        await self._forget(c.client, c.venue, credential_id)

    async def _install(self, link: EdgeLink, sealed: pb.SealedCredential) -> pb.CredentialInstalled:
        """At a venue of this region: its edge opens it and asks the venue about the key."""
        try:
            installed: pb.CredentialInstalled = await link.client.stub.InstallCredential(
                pb.CredentialInstall(credential=sealed, check=True), timeout=INSTALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT):
                raise OrderError("CREDENTIAL_REFUSED", f"{sealed.venue}: {exc.details()}", 422) from None
            raise OrderError("VENUE_UNAVAILABLE", f"the edge of {sealed.venue} did not answer: {exc.code().name}",
                             503) from None
        return installed

    async def _forget(self, client: str, venue: str, credential_id: str) -> None:
        """The edge's copy, wherever the venue is."""
        link = self.edges.get(venue)
        if link is not None:
            if link.connected:
                await self._uninstall(link, credential_id)
        elif self.remote is not None and self.remote.hosts(venue):
            await self.remote.remove(client, venue, credential_id)

    async def _uninstall(self, link: EdgeLink, credential_id: str) -> None:
        try:
            await link.client.stub.RemoveCredential(pb.CredentialRef(credential_id=credential_id), timeout=10)
        except grpc.aio.AioRpcError as exc:  # installed again at the next connection's sync, then removed
            log.warning("credential %s not removed from %s: %s", credential_id, link.venue, exc.code().name)

    async def rewrapped(self, credentials: list[pb.SealedCredential]) -> None:
        """Store the new wrapped data keys of credentials (the sealed credentials do not change)."""
        for new in credentials:
            old = self.by_id.get(new.credential_id)
            if old is None:  # deleted meanwhile
                continue
            c = StoredCredential(old.credential_id, old.client, old.venue, old.key_fingerprint,
                                 old.permissions, old.created_ns, new.wrap_key_id,
                                 base64.b64encode(new.wrapped_key).decode(), old.sealed)
            await self.store.put_credential(c)
            self._remember(c)

    async def sync(self, link: EdgeLink) -> None:
        """After an edge's Info: if it (re)connected or announces another wrapping key, rewrap what is
        wrapped for an older key of its and install the venue's credentials there."""
        info = link.info
        ours = [c for c in self.by_id.values() if c.venue == link.venue]
        if info is None or not ours or not info.HasField("wrapping_key"):
            return
        current = info.wrapping_key.key_id
        state = (link.reconnects, current, frozenset(c.credential_id for c in ours))
        if self._synced.get(link.venue) == state:
            return
        try:
            stale = [c for c in ours if c.wrap_key_id != current]
            if stale:
                reply = await link.client.stub.RewrapCredentials(
                    pb.RewrapRequest(credentials=[_sealed(c) for c in stale]), timeout=INSTALL_TIMEOUT_S)
                await self.rewrapped(list(reply.credentials))
                log.info("edge %s: %d credentials rewrapped for its wrapping key %s", link.venue, len(stale), current)
            for c in [self.by_id[c.credential_id] for c in ours if c.credential_id in self.by_id]:
                await link.client.stub.InstallCredential(pb.CredentialInstall(credential=_sealed(c), check=False),
                                                         timeout=INSTALL_TIMEOUT_S)
            self._synced[link.venue] = state
        except grpc.aio.AioRpcError as exc:  # its clients' orders are refused there until the next connection
            log.warning("edge %s: credentials not brought up to date: %s: %s", link.venue, exc.code().name,
                        exc.details())
