"""Dispatch: children to their edges (or, for another region's venue, to its home CC), and
cancels after them. A child is written before it is sent; one not acknowledged (a crash, a
dead link) is sent again by the resend sweep, and the edge is idempotent on the child id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

import grpc
from seqmesh.runtime.proto import edge_pb2 as pb

from ..clock import Clock
from ..domain import Child, ChildState, IllegalTransition, OrderType, Parent, Side, TimeInForce
from ..edges import EdgeLink
from ..mesh.peers import PeerMesh
from ..store import LedgerStore
from .booking import Booking
from .cache import OrderCache

log = logging.getLogger(__name__)
BOOKING_COMMIT_DELAY_S = 0.002
_TIF = {TimeInForce.GTC: pb.GTC, TimeInForce.FOK: pb.FOK, TimeInForce.POST_ONLY: pb.POST_ONLY}


class Dispatcher:
    def __init__(self, edges: Mapping[str, EdgeLink], mesh: PeerMesh | None, ledger: LedgerStore, booking: Booking,
                 cache: OrderCache, clock: Clock, account: Callable[[str, str], str] = lambda _c, _v: "") -> None:
        self.edges = edges
        #: (client, venue) -> the client's own venue account there (its credential id), "" for the shared one
        self.account = account
        self.mesh = mesh
        self.ledger = ledger
        self.booking = booking
        self.cache = cache
        self.clock = clock
        self._in_flight: set[str] = set()
        #: children whose edge took their cancel (answered it for an order it knows)
        self._cancel_taken: set[str] = set()

    async def send(self, parent: Parent, children: list[Child]) -> None:
        await asyncio.gather(*(self._send_child(parent, c) for c in children))

    async def resend_unsent(self) -> int:
        """Children written but never acknowledged by their edge: send them again. Cancels their
        edge never took (its link was down, the call failed, or the cancel overtook the submit
        and found no order): send them again too; the edge's cancel is idempotent."""
        live = list(self.cache.live_children())
        pending = [(p, c) for p, c in live if not c.sent and not c.done]
        for parent, child in pending:
            await self._send_child(parent, child)
            self.booking.settle(parent)
        cancels = [c for p, c in live if p.cancel_requested and c.sent and not c.done
                   and c.child_id not in self._cancel_taken]
        for child in cancels:
            await self._cancel_child(child)
        self._cancel_taken &= {c.child_id for _, c in live if not c.done}
        return len(pending) + len(cancels)

    async def cancel(self, children: list[Child]) -> None:
        await asyncio.gather(*(self._cancel_child(c) for c in children if not c.done))

    async def _send_child(self, parent: Parent, child: Child) -> None:
        if child.child_id in self._in_flight:
            return  # already on its way (the resend sweep must not race the first send)
        self._in_flight.add(child.child_id)
        try:
            await self._send_child_once(parent, child)
        finally:
            self._in_flight.discard(child.child_id)

    async def _send_child_once(self, parent: Parent, child: Child) -> None:
        req = pb.SubmitOrder(client_order_id=child.child_id, symbol=parent.symbol,
                             side=pb.BUY if parent.side is Side.BUY else pb.SELL,
                             type=pb.LIMIT if child.type is OrderType.LIMIT else pb.MARKET,
                             quantity=str(child.qty), price="" if child.price is None else str(child.price))
        if parent.tif is not TimeInForce.GTC:
            req.time_in_force = _TIF[parent.tif]
        link = self.edges.get(child.venue)
        req.account = self.account(parent.client, child.venue)  # at another region's venue too
        try:
            if link is not None:
                if not link.connected:
                    return  # the resend sweep retries once the edge is back
                ack = await link.client.submit_streamed(req, timeout=15)
            elif self.mesh is not None and self.mesh.home_of(child.venue) is not None:
                ack = await self.mesh.allocate(child.venue, req, client=parent.client)  # AllocateRemote to its home
                if ack.state == pb.ORDER_STATE_UNSPECIFIED:
                    log.warning("remote %s at %s not placed: %s; will resend", child.child_id, child.venue,
                                ack.reason)
                    return
            else:
                return
        except grpc.aio.AioRpcError as exc:
            log.warning("submit %s to %s failed: %s; will resend", child.child_id, child.venue, exc.code().name)
            return
        except (ConnectionError, TimeoutError) as exc:
            log.warning("remote submit %s to %s failed: %s; will resend", child.child_id, child.venue, exc)
            return
        child.sent = True
        if ack.events:  # the venue's answer: booked at once (the event stream repeats it, skipped then)
            with self.ledger.atomic():
                for ev in ack.events:
                    self.booking.apply(parent, child, child.venue, ev)
            # Committed shortly, not waited for: after a crash of this CC the edge's stream
            # replays them from the ledger's cursor (and an edge that crashed before committing
            # them records them again, from the venue). The delay lets the client's answer go
            # out before this commit's fsync holds the loop.
            self.ledger.commit_soon(BOOKING_COMMIT_DELAY_S)
            return
        child.venue_order_id = ack.venue_order_id or child.venue_order_id
        if child.state == ChildState.PENDING_NEW:
            try:
                child.transition(ChildState(pb.OrderState.Name(ack.state)))
            except (IllegalTransition, ValueError):
                log.warning("ack of %s at %s in state %s ignored", child.child_id, child.venue, ack.state)
            if ack.reason:
                child.reason = ack.reason
        child.updated_ns = self.clock.now_ns()
        # An ack without events (a duplicate) is not written: the edge's event stream carries
        # the order's facts. A refusal before any edge saw the child (a denied reservation)
        # has no event stream: book it now.
        if ack.state == pb.REJECTED and child.venue not in self.edges:
            self.ledger.save_child(child, "refused")
            self.booking.settle(parent)
            self.ledger.commit_soon(BOOKING_COMMIT_DELAY_S)

    async def amend(self, child: Child, qty: Decimal, price: Decimal) -> pb.AmendAck:
        """Ask the child's edge to amend it; an unreachable edge is an answer too (not amended)."""
        link = self.edges.get(child.venue)
        if link is None or not link.connected:
            return pb.AmendAck(client_order_id=child.child_id, reason=f"{child.venue}'s edge is not connected here")
        try:
            return await link.client.amend(child.child_id, str(qty), str(price), timeout=15)
        except grpc.aio.AioRpcError as exc:
            return pb.AmendAck(client_order_id=child.child_id, reason=f"{child.venue}'s edge: {exc.code().name}")

    async def _cancel_child(self, child: Child) -> None:
        link = self.edges.get(child.venue)
        if link is None and self.mesh is not None:
            if self.mesh.cancel_remote(child.venue, child.child_id):
                self._cancel_taken.add(child.child_id)  # the home region's edge has it from here
            return
        if link is None or not link.connected:
            return  # the resend sweep sends it once the edge is back
        try:
            ack = await link.client.cancel(child.child_id, timeout=15)
        except grpc.aio.AioRpcError as exc:
            log.warning("cancel %s at %s failed: %s; will resend", child.child_id, child.venue, exc.code().name)
            return
        if ack.state != pb.ORDER_STATE_UNSPECIFIED:  # the edge knows the order: the cancel is its now
            self._cancel_taken.add(child.child_id)
