"""A region's side of its peer links for tests of the mesh alone: allocations wait for the test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2 as ppb


@dataclass
class HeldVenue:
    """A region's side of the mesh: an allocation waits for `release` (the venue's answer; set it
    first for a venue that answers at once)."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    allocations: list[str] = field(default_factory=list)

    async def allocate(self, origin: str, alloc: ppb.AllocateRemote) -> pb.OrderAck:
        self.allocations.append(f"{origin}:{alloc.order.client_order_id}")
        self.entered.set()
        await self.release.wait()
        return pb.OrderAck(client_order_id=alloc.order.client_order_id, venue_order_id="v-1", state=pb.ACCEPTED)

    async def cancel(self, frame: ppb.CancelRemote) -> None:
        return None

    async def remote_events(self, venue: str, events: list[pb.OrderEvent]) -> None:
        return None

    def resume(self, origin: str, cursors: dict[str, int]) -> None:
        return None

    def remote_cursors(self) -> dict[str, int]:
        return {}

    def algo_message(self, msg: pb.AlgoMessage) -> None:
        return None

    async def credential(self, origin: str, fwd: ppb.CredentialForward) -> ppb.CredentialForwardAck:
        return ppb.CredentialForwardAck(error_code="CREDENTIALS_UNSUPPORTED", error="a held venue takes none")

    def accounts_of(self, origin: str) -> frozenset[str]:
        return frozenset()
