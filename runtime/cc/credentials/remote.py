"""Clients' credentials for venues of other regions (docs/security.md, "Across regions").

A client registers, at its own region's CC, a credential for any venue of the mesh. For a venue
of another region the CC seals it for the wrapping public key that venue's edge announces: the
key reaches us in the venue's announcement, from that region's CC over the mTLS peer link. The
sealed credential is forwarded to that CC, which hands it to the venue's edge as it came; neither
CC can open it. The child orders of that client at that venue then name the account
(`AllocateRemote.order.account`), and the home CC announces that account's balances to us alone.

The home CC keeps forwarded credentials in memory only; the edge keeps them sealed in its state.
So we forward ours again (without asking the venue again) whenever a link between the two
regions comes up, or the venue's edge comes back there.

The venue's CC relays the key; it is sealed for only if the venue's edge vouches for it (signed
with its TLS leaf, issued by that region's CA: `seqmesh.common.vouching`), so that CC cannot
put a key of its own in its place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2 as ppb

from seqmesh.common.vouching import vouching_problem

from ..errors import OrderError
from ..mesh.peers import PeerMesh, PeerState

log = logging.getLogger(__name__)
#: how long the home region may take to have its edge open the credential and ask the venue
FORWARD_TIMEOUT_S = 40.0


class RemoteCredentials:
    def __init__(self, mesh: PeerMesh, sealed_for: Callable[[str], list[pb.SealedCredential]],
                 rewrapped: Callable[[list[pb.SealedCredential]], Awaitable[None]]) -> None:
        self.mesh = mesh
        self.sealed_for = sealed_for  # venue -> our clients' credentials there, as stored (sealed)
        self.rewrapped = rewrapped  # stores credentials whose data keys the venue's edge rewrapped
        #: venue -> (the peer's link epoch, the edge's wrapping key id, our credential ids) when last forwarded
        self._synced: dict[str, tuple[int, str, frozenset[str]]] = {}
        self._syncing: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        mesh.on_announce.append(self._announced)

    def hosts(self, venue: str) -> bool:
        """Whether `venue` is another region's (one the mesh has heard of)."""
        return self.mesh.home_of(venue) is not None

    def public_key(self, venue: str) -> pb.WrappingPublicKey:
        """The wrapping key the venue's edge announces, as its home region relays it."""
        found = self.mesh.remote_venue(venue)
        if found is None:
            raise OrderError("UNKNOWN_VENUE", f"venue {venue!r} is in no region of the mesh (see GET /v1/edges)", 404)
        region, announced, _ = found
        if not self.mesh.routable(venue):
            raise OrderError("VENUE_UNAVAILABLE", f"{venue} (region {region}) is not reachable: try again later", 503)
        key = announced.info.wrapping_key
        if not announced.info.HasField("wrapping_key") or not key.public_key:
            raise OrderError("CREDENTIALS_UNSUPPORTED", f"venue {venue} takes no per-client credentials", 400)
        try:  # the key as that region relays it: sealed for only if the venue's edge signed it
            ca = self.mesh.peers[region].ca_bundle.read_bytes()
        except OSError as exc:
            raise OrderError("VENUE_UNAVAILABLE", f"region {region}'s CA cannot be read: {exc}", 503) from None
        problem = vouching_problem(region, venue, key.public_key, key.certificate, key.signature, ca)
        if problem is not None:
            log.error("the wrapping key region %s announces for %s is refused: %s", region, venue, problem)
            raise OrderError("VENUE_UNAVAILABLE", f"the wrapping key announced for {venue} is not vouched for by its "
                             f"edge ({problem}): nothing was sealed", 503)
        return key

    async def install(self, sealed: pb.SealedCredential, check: bool) -> pb.CredentialInstalled:
        """Forward `sealed` to its venue's home region for the edge there; its answer, or the refusal."""
        return (await self._forward(sealed, check)).installed

    async def _forward(self, sealed: pb.SealedCredential, check: bool = False,
                       rewrap: bool = False) -> ppb.CredentialForwardAck:
        venue = sealed.venue
        fwd = ppb.CredentialForward(client=sealed.client, rewrap=rewrap)
        fwd.install.CopyFrom(pb.CredentialInstall(credential=sealed, check=check))
        try:
            ack = await self.mesh.forward_credential(venue, fwd, FORWARD_TIMEOUT_S)
        except (ConnectionError, TimeoutError) as exc:
            raise OrderError("VENUE_UNAVAILABLE", f"the home region of {venue} did not answer: {exc or 'timeout'}",
                             503) from None
        if ack.error_code == "CREDENTIAL_REFUSED":
            raise OrderError("CREDENTIAL_REFUSED", f"{venue}: {ack.error}", 422)
        if ack.error_code:
            raise OrderError("VENUE_UNAVAILABLE", f"{venue}: {ack.error}", 503)
        return ack

    async def remove(self, client: str, venue: str, credential_id: str) -> None:
        """Have the home region forget it (best effort: an unreachable one never learns it again)."""
        try:
            await self.mesh.forward_credential(venue, ppb.CredentialForward(client=client, remove=credential_id), 10.0)
        except (ConnectionError, TimeoutError) as exc:
            log.warning("credential %s not removed at %s: %s", credential_id, venue, exc or "timeout")

    def _announced(self, peer: PeerState, announced: ppb.VenueAnnounce) -> None:
        venue = announced.info.venue
        if not announced.connected:
            self._synced.pop(venue, None)  # the edge there may come back without them: forward again then
            return
        ours = self.sealed_for(venue)
        state = (peer.epoch, announced.info.wrapping_key.key_id, frozenset(c.credential_id for c in ours))
        if not ours or self._synced.get(venue) == state or venue in self._syncing:
            return
        self._syncing.add(venue)
        task = asyncio.get_running_loop().create_task(self._forward_again(venue, state, ours))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_again(self, venue: str, state: tuple[int, str, frozenset[str]],
                             ours: list[pb.SealedCredential]) -> None:
        try:
            current, fresh = state[1], []
            for sealed in ours:
                try:
                    await self.install(sealed, check=False)
                    if sealed.wrap_key_id != current:  # the edge there rotated its key: rewrapped for it
                        fresh.append((await self._forward(sealed, rewrap=True)).rewrapped)
                except OrderError as exc:
                    if exc.code != "CREDENTIAL_REFUSED":
                        raise
                    # its client's orders there are not placed until it is deleted and added again
                    log.error("credential %s refused at %s: %s", sealed.credential_id, venue, exc.message)
            if fresh:
                await self.rewrapped(fresh)
                log.info("%d credentials for %s rewrapped for its wrapping key %s", len(fresh), venue, current)
            self._synced[venue] = state
            log.info("%d credentials forwarded again to %s", len(ours), venue)
        except OrderError as exc:  # tried again at the next announcement
            log.warning("credentials for %s not forwarded again: %s", venue, exc.message)
        finally:
            self._syncing.discard(venue)
