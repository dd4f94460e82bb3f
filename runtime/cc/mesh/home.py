"""The home side of cross-region orders: children other regions route to our venues.

A peer's child is recorded before our edge hears of it, held against the venue's balance
until the venue's locked balance shows it, placed, and its events relayed back to the
origin; when a peer reconnects, its children's events are replayed from where its ledger
stops. Our own children at other regions' venues come back as relayed events and are
booked like any edge's.

Other regions' clients' own accounts at our venues: the origin forwards a client's credential
sealed for our venue's edges, and we hand it to the edge as it came (we cannot open it). We
keep, in the ledger, which origin and client each such account is for (durable before the origin
hears it installed, loaded at start): a child may trade on an account only if its origin forwarded
that account for that client, no other origin may claim it (also right after we restart), and
each origin hears only of its own clients' accounts' balances. The origin forwards its
credentials again whenever a link between us comes up (the edge may have lost them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import grpc
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2 as ppb
from seqmesh.runtime.store.recent import RecentFinal

from ..edges import EdgeLink
from ..marketdata import MarketData
from ..routing.reservations import Reservations
from ..startup import Cursors
from ..store import LedgerStore, StoreUnavailable
from .peers import PeerMesh

log = logging.getLogger(__name__)
ZERO = Decimal(0)
#: remote children whose events we show (GET /v1/remote-children), most recent last; and final
#: ones kept in memory for their late events (older ones are looked up in the ledger)
REMOTE_VIEW_KEPT = 10_000
FINAL = frozenset({pb.FILLED, pb.CANCELED, pb.REJECTED, pb.EXPIRED})
#: how long a replay waits for our link back to the origin that asked for it
REPLAY_WAIT_S = 60.0
#: how long an edge may take to open a forwarded credential and ask the venue about it
INSTALL_TIMEOUT_S = 30.0


def _not_theirs(credential_id: str, owner: tuple[str, str, str]) -> ppb.CredentialForwardAck:
    origin, client, venue = owner
    return ppb.CredentialForwardAck(error_code="CREDENTIAL_REFUSED",
                                    error=f"credential {credential_id!r} does not belong to {origin}'s {client} "
                                          f"at {venue}")


class RemoteHome:
    def __init__(self, mesh: PeerMesh, edges: Mapping[str, EdgeLink], ledger: LedgerStore, cursors: Cursors,
                 hosted: dict[str, tuple[str, str]], marketdata: MarketData, reservations: Reservations,
                 book_events: Callable[[str, list[pb.OrderEvent]], Awaitable[None]],
                 algo_message: Callable[[pb.AlgoMessage], None],
                 local_credential: Callable[[str], bool] = lambda _id: False) -> None:
        self.mesh = mesh
        self.edges = edges
        self.ledger = ledger
        self.marketdata = marketdata
        self.reservations = reservations
        self._book_events = book_events
        self._algo_message = algo_message
        #: children other regions routed to our edges, not yet final: child id -> (origin region, venue)
        self.children = hosted
        #: the most recent final ones (late events, resends), oldest first
        self.finished = RecentFinal[tuple[str, str]](REMOTE_VIEW_KEPT, lambda _: None)
        #: (origin, venue) -> live events held while that origin's replay of that venue runs, so
        #: the origin gets each child's events in order (then these, after the replay)
        self._held: dict[tuple[str, str], list[pb.OrderEvent]] = {}
        self.cursors = cursors
        #: the latest state of recent remote children (bounded: old ones are in the origin's ledger)
        self.view: dict[str, dict[str, Any]] = {}
        #: the origin's client of each child in `children` and `view` (/v1/remote-orders shows a client its own)
        self.client_of: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: other regions' clients' accounts at our venues: credential id -> (origin, client, venue)
        self.forwarded: dict[str, tuple[str, str, str]] = {}
        #: whether a credential id is one of our own region's clients' (never replaced from outside)
        self.local_credential = local_credential

    # -- PeerHandler ------------------------------------------------------------------------

    async def allocate(self, origin: str, alloc: ppb.AllocateRemote) -> pb.OrderAck:
        """Another region routed a child to one of our edges: record it, then place it."""
        link = self.edges.get(alloc.venue)
        cid = alloc.order.client_order_id
        if link is None:
            return pb.OrderAck(client_order_id=cid, state=pb.REJECTED, reason=f"{alloc.venue} is not in this region")
        if not link.connected:
            return pb.OrderAck(client_order_id=cid, reason=f"edge {alloc.venue} is down")  # origin resends
        account = alloc.order.account
        if account and self.forwarded.get(account) != (origin, alloc.client, alloc.venue):
            # Not (yet) forwarded here for that client: a restarted home learns it at the origin's
            # next link; until then the origin resends. Never another client's account.
            return pb.OrderAck(client_order_id=cid, reason=f"account {account!r} of {origin}'s {alloc.client} is not "
                                                           f"installed at {alloc.venue} through this region (yet)")
        if cid not in self.children and cid not in self.finished and await self.ledger.remote_child(cid) is None:
            # The home region agrees the reservation: what the venue account the child trades on
            # can still cover, after every order already on its way there (ours and other
            # regions'), is the limit.
            asset, need = self._needs(link, alloc.order)
            free = (link.free(asset, account) - self.reservations.held_for_remote(link.venue, asset, account)
                    - self.reservations.reserved(link.venue, asset, account))
            if need > free:
                return pb.OrderAck(client_order_id=cid, state=pb.REJECTED,
                                   reason=f"RESERVATION_DENIED: {link.venue} can cover {max(free, ZERO)} {asset}, "
                                          f"the order needs {need}")
            with self.ledger.atomic():
                self.ledger.add_remote_child(cid, origin, alloc.venue, alloc.client)  # before the edge hears of it
            await self.ledger.durable()
            self.children[cid] = (origin, alloc.venue)
            self.client_of[cid] = alloc.client
            self.reservations.hold_remote(cid, link.venue, asset, need, account)
        try:
            return await link.client.submit(alloc.order, timeout=15)
        except grpc.aio.AioRpcError as exc:
            return pb.OrderAck(client_order_id=cid, reason=f"edge {alloc.venue}: {exc.code().name}")
        finally:
            # Once the venue has it, its own locked balance carries the reservation; the next
            # balance refresh (and the announcement to every peer) shows it.
            self._spawn(self._release_after_refresh(link, cid))

    async def cancel(self, frame: ppb.CancelRemote) -> None:
        link = self.edges.get(frame.venue)
        if link is not None and link.connected and self._known(frame.client_order_id) is not None:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await link.client.cancel(frame.client_order_id, timeout=15)

    async def remote_events(self, venue: str, events: list[pb.OrderEvent]) -> None:
        await self._book_events(venue, events)

    def algo_message(self, msg: pb.AlgoMessage) -> None:
        self._algo_message(msg)

    async def credential(self, origin: str, fwd: ppb.CredentialForward) -> ppb.CredentialForwardAck:
        """Install (or forget) another region's client's credential at our venue's edge, as sealed."""
        link = self.edges.get(fwd.venue)
        if link is None:
            return ppb.CredentialForwardAck(error_code="UNKNOWN_VENUE", error=f"{fwd.venue} is not in this region")
        if fwd.remove:
            if self.forwarded.get(fwd.remove, ("",))[0] == origin:  # only what that origin forwarded
                try:
                    if not link.connected:
                        raise ConnectionError(f"the edge of {fwd.venue} is down")
                    await link.client.stub.RemoveCredential(pb.CredentialRef(credential_id=fwd.remove), timeout=10)
                except (grpc.aio.AioRpcError, ConnectionError) as exc:
                    # the edge may still hold it: it stays that origin's, so no other can claim it
                    log.warning("credential %s of %s not removed at %s: %s", fwd.remove, origin, fwd.venue, exc)
                    return ppb.CredentialForwardAck(error_code="VENUE_UNAVAILABLE", error=f"not removed at the edge "
                                                                                          f"of {fwd.venue}")
                if not await self._keep(lambda: self.ledger.remove_forwarded_credential(fwd.remove)):
                    return ppb.CredentialForwardAck(error_code="VENUE_UNAVAILABLE", error="the ledger is unavailable")
                self.forwarded.pop(fwd.remove, None)
            return ppb.CredentialForwardAck()
        sealed = fwd.install.credential
        cid = sealed.credential_id
        owner = (origin, fwd.client, fwd.venue)
        if (sealed.venue != fwd.venue or sealed.client != fwd.client or self.local_credential(cid)
                or self.forwarded.get(cid, owner) != owner):
            # sealed for another venue or client, or an account that is someone else's here
            return _not_theirs(cid, owner)
        if not link.connected:
            return ppb.CredentialForwardAck(error_code="VENUE_UNAVAILABLE", error=f"the edge of {fwd.venue} is down")
        if fwd.rewrap:
            return await self._rewrap(link, sealed, owner)
        try:
            installed = await link.client.stub.InstallCredential(fwd.install, timeout=INSTALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            refused = exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)
            return ppb.CredentialForwardAck(error_code="CREDENTIAL_REFUSED" if refused else "VENUE_UNAVAILABLE",
                                            error=(exc.details() or "") if refused else exc.code().name)
        if self.forwarded.get(cid, owner) != owner:  # another origin's install of that id finished meanwhile
            return _not_theirs(cid, owner)
        self.forwarded[cid] = owner  # claimed at once; durable before the origin hears it installed
        if not await self._keep(lambda: self.ledger.add_forwarded_credential(cid, *owner)):
            if self.forwarded.get(cid) == owner:
                del self.forwarded[cid]
            return ppb.CredentialForwardAck(error_code="VENUE_UNAVAILABLE", error="the ledger is unavailable")
        log.info("credential %s of %s's %s installed at %s", cid, origin, fwd.client, fwd.venue)
        with contextlib.suppress(grpc.aio.AioRpcError, ConnectionError):
            await link.refresh_balances()  # its balances go back with the next announcement
        return ppb.CredentialForwardAck(installed=installed)

    async def _rewrap(self, link: EdgeLink, sealed: pb.SealedCredential,
                      owner: tuple[str, str, str]) -> ppb.CredentialForwardAck:
        """The edge's current wrapping key rotated: the data key of a credential forwarded here,
        rewrapped by the edge (we see only wrapped keys)."""
        if self.forwarded.get(sealed.credential_id) != owner:
            return ppb.CredentialForwardAck(error_code="VENUE_UNAVAILABLE",
                                            error=f"credential {sealed.credential_id!r} is not installed here (yet)")
        try:
            reply = await link.client.stub.RewrapCredentials(pb.RewrapRequest(credentials=[sealed]),
                                                             timeout=INSTALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            refused = exc.code() == grpc.StatusCode.INVALID_ARGUMENT
            return ppb.CredentialForwardAck(error_code="CREDENTIAL_REFUSED" if refused else "VENUE_UNAVAILABLE",
                                            error=(exc.details() or "") if refused else exc.code().name)
        return ppb.CredentialForwardAck(rewrapped=reply.credentials[0])

    async def _keep(self, write: Callable[[], None]) -> bool:
        """`write` to the ledger and wait until it is durable; False if the ledger could not keep it."""
        try:
            with self.ledger.atomic():
                write()
            await self.ledger.durable()
        except StoreUnavailable as exc:
            log.warning("forwarded credentials: %s", exc)
            return False
        return True

    def accounts_of(self, origin: str) -> frozenset[str]:
        return frozenset(cid for cid, (o, _c, _v) in self.forwarded.items() if o == origin)

    def resume(self, origin: str, cursors: dict[str, int]) -> None:
        """A peer reconnected: replay its children's events from where its ledger stops."""
        for venue, after in cursors.items():
            link = self.edges.get(venue)
            if link is not None:
                self._held[(origin, venue)] = []  # live events wait behind the replay from now
                self._spawn(self._replay(origin, link, after))

    def remote_cursors(self) -> dict[str, int]:
        """For each venue of another region we routed to: the last of its events we booked."""
        return {v: self.cursors.get(v) for v in self.cursors.venues_routed if v not in self.edges}

    # -- events of the children we host ------------------------------------------------------

    def relay(self, venue: str, ev: pb.OrderEvent) -> bool:
        """An event at one of our edges: if it is another region's child, back it goes (True)."""
        cid = ev.client_order_id
        remote = self._known(cid)
        if remote is None:
            return False
        if ev.state in FINAL and self.children.pop(cid, None) is not None:
            self.ledger.finish_remote_child(cid)  # booked with the batch this event came in
            self.finished.keep(cid, remote)
        origin = remote[0]
        view = self.view.pop(ev.client_order_id, None) or {"child_id": ev.client_order_id, "origin": origin,
                                                             "venue": venue, "fills": 0,
                                                             "client": self.client_of.get(cid, "")}
        view.update(state=pb.OrderState.Name(ev.state), filled=ev.filled_qty, symbol=ev.symbol)
        if ev.HasField("fill"):
            view["fills"] += 1
        self.view[ev.client_order_id] = view  # re-inserted: the dict stays in recency order
        if len(self.view) > REMOTE_VIEW_KEPT:
            gone = next(iter(self.view))
            del self.view[gone]
            if gone not in self.children:
                self.client_of.pop(gone, None)
        held = self._held.get((origin, venue))
        if held is not None:
            held.append(ev)
        else:
            self.mesh.relay(origin, venue, ev)
        return True

    async def relay_late(self, venue: str, ev: pb.OrderEvent) -> bool:
        """An event of a child no longer in memory: if the ledger says another region's, relay it."""
        remote = await self.ledger.remote_child(ev.client_order_id)
        if remote is None:
            return False
        self.finished.keep(ev.client_order_id, remote)
        return self.relay(venue, ev)

    # -- internals ---------------------------------------------------------------------------

    def _known(self, cid: str) -> tuple[str, str] | None:
        return self.children.get(cid) or self.finished.get(cid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release_after_refresh(self, link: EdgeLink, cid: str) -> None:
        link.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.changed.wait(), 5.0)
        self.reservations.release_remote(cid)

    def _needs(self, link: EdgeLink, order: pb.SubmitOrder) -> tuple[str, Decimal]:
        """(asset, amount) an order will lock at the venue (a market buy at the current ask + fee)."""
        base, quote = order.symbol.split("/")
        qty = Decimal(order.quantity)
        if order.side == pb.SELL:
            return base, qty
        price = Decimal(order.price) if order.price else (self.marketdata.best(order.symbol)[1] or ZERO)
        vb = self.marketdata.books.get((link.venue, order.symbol))
        if not order.price and vb is not None:
            # Sweeping costs more than the top: walk this venue's asks for the whole quantity.
            got, cost, i = ZERO, ZERO, 0
            while got < qty and (lvl := vb.level_at(False, i)) is not None:
                take = min(lvl[1], qty - got)
                got, cost, i = got + take, cost + take * lvl[0], i + 1
            if got:
                price = cost / got
        return quote, qty * price * (1 + link.taker_fee)

    async def _replay(self, origin: str, link: EdgeLink, after: int) -> None:
        held = self._held.get((origin, link.venue))
        try:
            await self._replay_from(origin, link, after)
        finally:  # the live events held meanwhile follow, in order (dropped with a dropped link)
            if self._held.get((origin, link.venue)) is held:
                del self._held[(origin, link.venue)]
            for ev in held or ():
                self.mesh.relay(origin, link.venue, ev)

    async def _replay_from(self, origin: str, link: EdgeLink, after: int) -> None:
        # The origin dialled us and said where its ledger stops; what we replay goes back over
        # our own link to it, which may still be redialling (a restarted origin): wait for it,
        # or every event of the replay would be dropped and nothing would ask again.
        if not await self.mesh.wait_linked(origin, REPLAY_WAIT_S):
            log.warning("replay for %s from %s: no link back within %ss; at its next hello", origin, link.venue,
                        REPLAY_WAIT_S)
            return
        try:
            end = (await link.client.info(timeout=10)).last_event_seq
            if end <= after:
                return
            not_remote: set[str] = set()  # the replay's other children, looked up once each
            async for ev in link.client.order_events(after):
                cid = ev.client_order_id
                remote = self._known(cid)
                if remote is None and cid not in not_remote:
                    remote = await self.ledger.remote_child(cid)  # final before our restart
                    if remote is None:
                        not_remote.add(cid)
                if remote is not None and remote[0] == origin and not self.mesh.relay(origin, link.venue, ev):
                    return  # the link dropped again: its next hello replays from its cursor
                if ev.seq >= end:
                    return
        except grpc.aio.AioRpcError as exc:
            log.warning("replay for %s from %s failed: %s", origin, link.venue, exc.code().name)
