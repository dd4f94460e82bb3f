"""The peer mesh: this CC's links to the other regions' CCs.

Outbound (`PeerLink`, one per configured peer): dials the peer over mTLS trusting only that
peer's CA bundle, says Hello, announces this region's venues, sends a snapshot of every
local book and then mirrors every market-data item of the local edges, with pings every probe
interval for the round-trip time. Inbound (`PeerService`): accepts a peer whose certificate
names a configured region and role `cc` and is signed by that region's CA, registers its venues as remote (`region`,
`remote: true`) and feeds its items to the aggregator, stamping `peer_recv_ts`. A link that
drops makes the peer's venues stale until it is back; reconnects back off and resend
snapshots, so nothing depends on what was in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from seqmesh.runtime.links.rtt import RoundTrips
from seqmesh.runtime.links.tls import (
    TlsFiles,
    channel_credentials,
    expecting,
    files_digest,
    peer_certificate,
    peer_identity,
    until_rotated,
)
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2 as ppb
from seqmesh.runtime.proto import peer_pb2_grpc as ppbg

from seqmesh.common.certs import issued_by_any

from ..marketdata import MarketData

log = logging.getLogger(__name__)


class PeerHandler(Protocol):
    """What the region does with what its peers ask of it (the home side of their orders,
    their algos' messages) and what it tells a peer on connecting."""

    async def allocate(self, origin: str, alloc: ppb.AllocateRemote) -> pb.OrderAck: ...

    async def cancel(self, frame: ppb.CancelRemote) -> None: ...

    async def remote_events(self, venue: str, events: list[pb.OrderEvent]) -> None: ...

    def resume(self, origin: str, cursors: dict[str, int]) -> None: ...

    def remote_cursors(self) -> dict[str, int]: ...

    def algo_message(self, msg: pb.AlgoMessage) -> None: ...

    async def credential(self, origin: str, fwd: ppb.CredentialForward) -> ppb.CredentialForwardAck:
        """A credential `origin` forwards for one of our venues' edges (or asks it to forget)."""
        ...

    def accounts_of(self, origin: str) -> frozenset[str]:
        """The venue accounts `origin`'s clients forwarded credentials for: it hears only of those."""
        ...


@dataclass
class PeerState:
    region: str
    endpoint: str
    ca_bundle: Path
    connected_out: bool = False  # our link to them is up
    connected_in: bool = False  # their link to us is up
    rtts: RoundTrips = field(default_factory=RoundTrips)
    last_pong: float = 0.0  # monotonic; a link whose pongs stop is down even if TCP looks fine
    reconnects: int = 0
    last_error: str = ""
    venues: dict[str, ppb.VenueAnnounce] = field(default_factory=dict)
    items_in: int = 0
    items_out: int = 0
    #: counts the links to it coming up (either way): what it was told before may be lost since
    epoch: int = 0

    @property
    def rtt_ms(self) -> float | None:
        """The link's round-trip estimate (None before the first pong)."""
        return self.rtts.ms


class PeerMesh:
    def __init__(self, region: str, tls: TlsFiles, marketdata: MarketData, peers: list[PeerState],
                 probe_s: float = 5.0) -> None:
        self.region = region
        self.tls = tls
        self.marketdata = marketdata
        self.peers = {p.region: p for p in peers}
        self.probe_s = probe_s
        self._outboxes: dict[str, asyncio.Queue[ppb.PeerFrame | None]] = {}
        #: per peer: set while our link to it carries frames (relays need it)
        self._linked: dict[str, asyncio.Event] = {}
        self.local_venues: dict[str, ppb.VenueAnnounce] = {}
        self._acks: dict[str, asyncio.Future[pb.OrderAck]] = {}
        self._credential_acks: dict[str, asyncio.Future[ppb.CredentialForwardAck]] = {}
        #: account balances of our venues: venue -> each client account's (filtered per peer when sent)
        self.local_accounts: dict[str, list[pb.AccountBalances]] = {}
        self.handler: PeerHandler | None = None
        #: called with each venue announcement a peer sends (its region's state, and the venue's)
        self.on_announce: list[Callable[[PeerState, ppb.VenueAnnounce], None]] = []

    def peer_cas(self) -> list[bytes]:
        """The peers' CA bundles that can be read. A missing one does not stop the region (it
        serves its own venues; a pod whose mounts lag its configuration must still come up so
        it can be rolled): that peer stays down with the reason in its state."""
        out = []
        for peer in self.peers.values():
            try:
                out.append(peer.ca_bundle.read_bytes())
            except OSError as exc:
                peer.last_error = f"CA bundle unreadable: {exc}"
                log.error("peer %s: %s; it stays down", peer.region, peer.last_error)
        return out

    def trusted_roots(self) -> bytes:
        """What the peer listener trusts, read at each handshake that looks for rotated files: the
        peers' CAs (its own CA when none can be read, so that nothing else passes: the call
        still has to name a configured peer region signed by that region's CA)."""
        return b"".join(self.peer_cas()) or self.tls.ca.read_bytes()

    def issued_by_its_region(self, region: str, context: grpc.aio.ServicerContext[Any, Any]) -> bool:
        """Whether the caller's certificate is signed by the CA the configuration names for
        `region` (the listener trusts every peer's CA: any of them could sign any region's name)."""
        cert = peer_certificate(context)
        try:
            return cert is not None and issued_by_any(cert, self.peers[region].ca_bundle.read_bytes())
        except (OSError, ValueError):
            return False

    def attach(self, handler: PeerHandler) -> None:
        """The region's side of the mesh (built after the mesh, which it uses to answer)."""
        self.handler = handler

    # -- venues of other regions ------------------------------------------------------------

    def home_of(self, venue: str) -> PeerState | None:
        for peer in self.peers.values():
            if venue in peer.venues:
                return peer
        return None

    def alive(self, peer: PeerState) -> bool:
        """Up, and answered a probe within the last two probe intervals (a partition that drops
        packets without closing connections shows up here, within one probe interval or so)."""
        return (peer.connected_out and peer.connected_in
                and time.monotonic() - peer.last_pong <= 2 * self.probe_s + 0.5)

    def remote_venue(self, venue: str) -> tuple[str, ppb.VenueAnnounce, float] | None:
        peer = self.home_of(venue)
        return None if peer is None else (peer.region, peer.venues[venue], peer.rtt_ms or 0.0)

    def routable(self, venue: str) -> bool:
        peer = self.home_of(venue)
        return bool(peer and self.alive(peer) and peer.venues[venue].connected)

    async def allocate(self, venue: str, order: pb.SubmitOrder, timeout: float = 15.0,
                       client: str = "") -> pb.OrderAck:
        """Send a child to the venue's home region and wait for its edge's answer."""
        peer = self.home_of(venue)
        if peer is None or peer.region not in self._outboxes:
            raise ConnectionError(f"no live link to the home region of {venue}")
        fut: asyncio.Future[pb.OrderAck] = asyncio.get_running_loop().create_future()
        self._acks[order.client_order_id] = fut
        frame = ppb.PeerFrame(allocate=ppb.AllocateRemote(origin_region=self.region, venue=venue, client=client))
        frame.allocate.order.CopyFrom(order)
        self._outboxes[peer.region].put_nowait(frame)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._acks.pop(order.client_order_id, None)

    async def forward_credential(self, venue: str, fwd: ppb.CredentialForward,
                                 timeout: float = 30.0) -> ppb.CredentialForwardAck:
        """Send a credential (sealed for the venue's edges) to the venue's home region; its answer."""
        peer = self.home_of(venue)
        if peer is None or peer.region not in self._outboxes:
            raise ConnectionError(f"no live link to the home region of {venue}")
        fwd.venue = venue
        fwd.request_id = fwd.request_id or f"{self.region}-cred-{time.time_ns()}"
        fut: asyncio.Future[ppb.CredentialForwardAck] = asyncio.get_running_loop().create_future()
        self._credential_acks[fwd.request_id] = fut
        self._outboxes[peer.region].put_nowait(ppb.PeerFrame(credential=fwd))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._credential_acks.pop(fwd.request_id, None)

    def cancel_remote(self, venue: str, client_order_id: str) -> bool:
        peer = self.home_of(venue)
        if peer is None or peer.region not in self._outboxes:
            return False
        self._outboxes[peer.region].put_nowait(
            ppb.PeerFrame(cancel=ppb.CancelRemote(venue=venue, client_order_id=client_order_id)))
        return True

    async def wait_linked(self, region: str, timeout: float) -> bool:
        """Until our link to `region` carries frames (a peer that just dialled us may not have
        been dialled back yet); False if it is not up within `timeout`."""
        try:
            await asyncio.wait_for(self._linked.setdefault(region, asyncio.Event()).wait(), timeout)
        except TimeoutError:
            return False
        return True

    def relay(self, origin: str, venue: str, event: pb.OrderEvent) -> bool:
        """An event of `origin`'s child at one of our venues goes back to it (if the link is up;
        otherwise the origin's resume cursor makes us replay it when it is back)."""
        box = self._outboxes.get(origin)
        if box is None:
            return False
        frame = ppb.PeerFrame(remote_event=ppb.RemoteEvent(venue=venue))
        frame.remote_event.event.CopyFrom(event)
        box.put_nowait(frame)
        return True

    # -- what the local region has ---------------------------------------------------------

    def announce(self, info: pb.VenueInfo, connected: bool, rtt_ms: float,
                 balances: list[pb.Balance] | None = None, accounts: list[pb.AccountBalances] | None = None) -> None:
        frame = ppb.VenueAnnounce(connected=connected, edge_rtt_ms=rtt_ms)
        frame.info.CopyFrom(info)
        frame.balances.extend(balances or [])
        self.local_venues[info.venue] = frame
        self.local_accounts[info.venue] = accounts or []
        self._broadcast(lambda region: ppb.PeerFrame(venue=self._announcement(region, info.venue)))

    def _announcement(self, region: str, venue: str) -> ppb.VenueAnnounce:
        """A local venue's announcement for `region`: with its own clients' accounts only."""
        frame = self.local_venues[venue]
        theirs = self.handler.accounts_of(region) if self.handler is not None else frozenset()
        mine = [a for a in self.local_accounts.get(venue, ()) if a.account in theirs]
        if not mine:
            return frame
        out = ppb.VenueAnnounce()
        out.CopyFrom(frame)
        out.accounts.extend(mine)
        return out

    def send_algo_message(self, msg: pb.AlgoMessage) -> int:
        """A message of a local algo instance goes to every connected peer region (not further)."""
        frame = ppb.PeerFrame(algo_message=msg)
        self._broadcast(frame)
        return len(self._outboxes)

    def mirror(self, item: pb.MarketData) -> None:
        if self._outboxes:
            self._broadcast(ppb.PeerFrame(market_data=item))

    def _broadcast(self, frame: ppb.PeerFrame | Callable[[str], ppb.PeerFrame]) -> None:
        """`frame`, or what `frame(region)` makes for each region, to every linked peer."""
        for region, box in self._outboxes.items():
            if box.qsize() > 100_000:  # a peer that cannot keep up gets a fresh start instead
                box.put_nowait(None)
                continue
            box.put_nowait(frame(region) if callable(frame) else frame)
            self.peers[region].items_out += 1

    def _snapshots(self, region: str) -> list[ppb.PeerFrame]:
        frames = [ppb.PeerFrame(venue=self._announcement(region, v)) for v in self.local_venues]
        for vb in self.marketdata.books.values():
            if vb.remote or not vb.synced:
                continue
            snap = pb.BookSnapshot(symbol=vb.symbol, book_seq=vb.seq,
                                   ts=pb.Timestamps(exchange_ts=vb.exchange_ts, edge_recv_ts=vb.edge_recv_ts,
                                                    cc_proc_ts=vb.cc_proc_ts))
            snap.bids.extend(pb.Level(price=vb.prices.to_str(p), qty=vb.qtys.to_str(q))
                             for p, q in vb.book.levels(True))
            snap.asks.extend(pb.Level(price=vb.prices.to_str(p), qty=vb.qtys.to_str(q))
                             for p, q in vb.book.levels(False))
            frames.append(ppb.PeerFrame(market_data=pb.MarketData(venue=vb.venue, snapshot=snap)))
        pools = self.marketdata.pools  # and our DEX venues' pools and gas, as they stand
        frames += [ppb.PeerFrame(market_data=pb.MarketData(venue=g.venue, gas=g.gas))
                   for g in pools.chains() if g.venue in self.local_venues]
        frames += [ppb.PeerFrame(market_data=pb.MarketData(venue=p.venue, pool=p.state))
                   for p in pools.all() if not p.remote]
        return frames

    # -- outbound ---------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(self._dial(p) for p in self.peers.values()))

    async def _dial(self, peer: PeerState) -> None:
        backoff = 0.2
        own = self.tls
        watched = (*own.paths, peer.ca_bundle)
        while True:
            try:
                ca = peer.ca_bundle.read_bytes()
            except OSError as exc:  # not mounted (yet): the peer stays down, the region serves on
                peer.last_error = f"CA bundle unreadable: {exc}"
                await asyncio.sleep(5.0)
                continue
            digest = files_digest(watched)
            # Only that region's CA, and only its CC: the name its certificate must carry.
            channel = grpc.aio.secure_channel(peer.endpoint, channel_credentials(own, ca=ca),
                                              options=[("grpc.keepalive_time_ms", 10_000),
                                                       *expecting(peer.region, "cc")])
            box: asyncio.Queue[ppb.PeerFrame | None] = asyncio.Queue()
            try:
                call = ppbg.PeerStub(channel).Link(self._outgoing(peer, box))
                link = asyncio.ensure_future(self._read_link(peer, call))
                rotated = asyncio.ensure_future(until_rotated(watched, digest))
                try:
                    await asyncio.wait({link, rotated}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    rotated.cancel()
                    if not link.done():  # our files or the peer's CA rotated: dial again with them
                        link.cancel()
                        peer.last_error = "TLS files rotated"
                        await asyncio.wait({link})
                if not link.cancelled():
                    link.result()
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                peer.last_error = f"{exc.code().name}: {exc.details()}"
            finally:
                if peer.connected_out:  # it was up: back off from the start again
                    backoff = 0.2
                self._outboxes.pop(peer.region, None)
                self._linked.setdefault(peer.region, asyncio.Event()).clear()
                peer.connected_out = False
                await channel.close(grace=None)
            peer.reconnects += 1
            log.warning("peer %s at %s: %s; redialling in %.1fs", peer.region, peer.endpoint, peer.last_error,
                        backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _read_link(self, peer: PeerState, call: grpc.aio.StreamStreamCall[ppb.PeerFrame, ppb.PeerFrame]
                         ) -> None:
        async for frame in call:
            if frame.HasField("allocate_ack"):
                ack = frame.allocate_ack.ack
                fut = self._acks.get(ack.client_order_id)
                if fut is not None and not fut.done():
                    fut.set_result(ack)
            elif frame.HasField("credential_ack"):
                cred = self._credential_acks.get(frame.credential_ack.request_id)
                if cred is not None and not cred.done():
                    cred.set_result(frame.credential_ack)
            elif frame.HasField("pong"):
                if not peer.connected_out:
                    peer.rtts.clear()  # a new link: the old one's round trips say nothing of it
                    peer.connected_out, peer.last_error = True, ""
                    peer.epoch += 1
                peer.rtts.add((time.perf_counter_ns() - frame.pong.t0) / 1e6)
                peer.last_pong = time.monotonic()

    async def _outgoing(self, peer: PeerState, box: asyncio.Queue[ppb.PeerFrame | None]
                        ) -> AsyncIterator[ppb.PeerFrame]:
        hello = ppb.Hello(region=self.region)
        if self.handler is not None:
            hello.remote_cursors.update(self.handler.remote_cursors())
        yield ppb.PeerFrame(hello=hello)
        self._outboxes[peer.region] = box  # live items queue from here on, after the snapshots
        self._linked.setdefault(peer.region, asyncio.Event()).set()
        for frame in self._snapshots(peer.region):
            yield frame
        pinger = asyncio.create_task(self._ping(box))
        try:
            while True:
                queued = await box.get()
                if queued is None:
                    return  # overflowed: end the stream; the redial starts again from snapshots
                yield queued
        finally:
            pinger.cancel()

    async def _ping(self, box: asyncio.Queue[ppb.PeerFrame | None]) -> None:
        while True:
            box.put_nowait(ppb.PeerFrame(ping=ppb.Ping(t0=time.perf_counter_ns())))
            await asyncio.sleep(self.probe_s)


class PeerService(ppbg.PeerServicer):
    """The inbound side: another region's CC mirroring to us and routing to our venues.

    Market data and pings are handled as they arrive; an allocation waits for our edge's
    answer in a task of its own and its ack joins the replies when ready, so nothing read after
    it (a ping, whose pong the peer's router uses as our round trip) waits behind a venue's
    answer. Relayed order events are booked in their order by one worker per link."""

    def __init__(self, mesh: PeerMesh) -> None:
        self.mesh = mesh

    async def Link(self, requests: AsyncIterator[ppb.PeerFrame],
                   context: grpc.aio.ServicerContext[ppb.PeerFrame, ppb.PeerFrame]) -> AsyncIterator[ppb.PeerFrame]:
        ident = peer_identity(context)  # type: ignore[arg-type]
        mesh = self.mesh
        # The dialer's hello is read before any refusal: a call refused while its first write was
        # in flight ended at the dialer as INTERNAL ("Internal error from Core"), not as the refusal.
        first = await anext(aiter(requests), None)
        if ident is None or ident.role != "cc" or ident.region not in mesh.peers:
            who = ident.uri if ident else "a client without a seqmesh identity"
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{who} is not a configured peer CC")
            return
        if not mesh.issued_by_its_region(ident.region, context):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{ident.uri}: the certificate is not issued by the CA configured for region "
                                f"{ident.region!r}")
            return
        region = ident.region
        replies: asyncio.Queue[ppb.PeerFrame | BaseException | None] = asyncio.Queue()
        events: asyncio.Queue[ppb.RemoteEvent] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        def spawn(coro: Any) -> None:
            task = asyncio.get_running_loop().create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        async def allocate(alloc: ppb.AllocateRemote) -> None:
            handler = mesh.handler
            if handler is None:
                return
            ack = await handler.allocate(region, alloc)
            reply = ppb.PeerFrame(allocate_ack=ppb.AllocateAck(venue=alloc.venue))
            reply.allocate_ack.ack.CopyFrom(ack)
            replies.put_nowait(reply)

        async def credential(fwd: ppb.CredentialForward) -> None:
            handler = mesh.handler
            if handler is None:
                return
            ack = await handler.credential(region, fwd)
            ack.request_id = fwd.request_id
            replies.put_nowait(ppb.PeerFrame(credential_ack=ack))

        async def book_events() -> None:
            while True:
                ev = await events.get()
                if mesh.handler is not None:
                    await mesh.handler.remote_events(ev.venue, [ev.event])

        async def read() -> None:
            try:
                if first is not None:
                    reply = await self._on_frame(region, first, spawn, allocate, events, credential)
                    if reply is not None:
                        replies.put_nowait(reply)
                async for frame in requests:
                    reply = await self._on_frame(region, frame, spawn, allocate, events, credential)
                    if reply is not None:
                        replies.put_nowait(reply)
                replies.put_nowait(None)
            except BaseException as exc:  # the stream failed: end the call with it
                replies.put_nowait(exc)

        peer = mesh.peers[region]
        peer.connected_in = True
        peer.epoch += 1
        yield ppb.PeerFrame(hello=ppb.Hello(region=mesh.region))  # admitted: the dialer may go on
        spawn(book_events())
        reader = asyncio.get_running_loop().create_task(read())
        try:
            while True:
                out = await replies.get()
                if out is None:
                    return
                if isinstance(out, BaseException):
                    if isinstance(out, PermissionError):
                        await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(out))
                    raise out
                yield out
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()
            peer.connected_in = False
            for venue in peer.venues:
                mesh.marketdata.set_connected(venue, False)  # its venues leave NBBO and routing until back

    async def _on_frame(self, region: str, frame: ppb.PeerFrame, spawn: Any, allocate: Any,
                        events: asyncio.Queue[ppb.RemoteEvent], credential: Any) -> ppb.PeerFrame | None:
        mesh = self.mesh
        peer = mesh.peers[region]
        kind = frame.WhichOneof("body")
        if kind == "market_data":
            item = frame.market_data
            which = item.WhichOneof("item")
            if which is not None:
                getattr(item, which).ts.peer_recv_ts = time.time_ns()
                mesh.marketdata.on_item(item)
                peer.items_in += 1
        elif kind == "ping":
            return ppb.PeerFrame(pong=ppb.Pong(t0=frame.ping.t0))
        elif kind == "venue":
            v = frame.venue
            peer.venues[v.info.venue] = v
            mesh.marketdata.register(v.info.venue, region, True, list(v.info.instruments))
            mesh.marketdata.set_connected(v.info.venue, v.connected)
            for hook in mesh.on_announce:
                hook(peer, v)
        elif kind == "allocate":
            spawn(allocate(frame.allocate))
        elif kind == "remote_event":
            events.put_nowait(frame.remote_event)
        elif mesh.handler is None:
            return None
        elif kind == "cancel":
            spawn(mesh.handler.cancel(frame.cancel))
        elif kind == "credential":
            spawn(credential(frame.credential))
        elif kind == "algo_message":
            mesh.handler.algo_message(frame.algo_message)
        elif kind == "hello":
            if frame.hello.region != region:
                raise PermissionError(f"hello says {frame.hello.region!r} but the certificate says {region!r}")
            mesh.handler.resume(region, dict(frame.hello.remote_cursors))
        return None
