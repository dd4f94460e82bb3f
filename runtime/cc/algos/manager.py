"""The CC's algo manager: deployments stored durably, pushed to their edges, kept in step.

The CC is the source of truth for what runs where: when an edge (re)connects, its algos are
brought to the stored state (missing ones deployed, changed binaries replaced, strays
removed). Each edge's algo link carries messages between instances of one algo (to the other
edges here and, over the peer mesh, to other regions) and the NBBO when it changes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Collection
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import grpc
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.wasm.public_abi import PEERS_PARAM
from seqmesh.runtime.wasm.validate import validate

from seqmesh.common.wasmfile import InvalidWasm, digest

from ..bus import BookChanged, Bus, FillBooked
from ..config import RiskLimits
from ..errors import OrderError as ApiError
from ..marketdata import MarketData, VenueBook
from ..positions import Positions
from .store import AlgoRecord, AlgoStore

if TYPE_CHECKING:
    from ..edges import EdgeLink
    from ..mesh.peers import PeerMesh

log = logging.getLogger(__name__)
#: Deployments made from Algo manifests: every client of the region sees them; Kubernetes changes them.
SHARED_OWNER = "kubernetes"
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$")
PARAM_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class AlgoManager:
    def __init__(self, region: str, store: AlgoStore, edges: dict[str, EdgeLink], marketdata: MarketData,
                 limits: RiskLimits, bus: Bus, positions: Positions, mesh: PeerMesh | None = None) -> None:
        self.region = region
        self.store = store
        self.edges = edges
        self.marketdata = marketdata
        self.limits = limits
        self.mesh = mesh
        self.down: dict[str, asyncio.Queue[pb.AlgoDown]] = {}  # venue -> its algo link's outbox
        self._nbbo_targets: dict[str, list[str]] = {}  # symbol -> venues running an algo on it
        self._last_nbbo: dict[str, tuple[Any, ...]] = {}
        self.routed = 0
        self.from_peers = 0
        self._retarget()
        self.positions = positions
        self._tasks: set[asyncio.Task[Any]] = set()
        #: (algo, venue) -> (binary, why) its edge refused: shown until another binary is pushed there
        self._refused: dict[tuple[str, str], tuple[str, str]] = {}
        bus.subscribe(BookChanged, lambda ev: self.on_book_change(ev.symbol))
        bus.subscribe(FillBooked, self._on_fill)

    def _on_fill(self, ev: FillBooked) -> None:
        """An algo's fill that takes its client beyond the position limit stops the client's algos
        on that symbol (each instance keeps to the limit; several together may not)."""
        if ev.parent is not None:
            return  # a client order's fill: risk checked it before it was sent
        f = ev.fill
        max_pos = self.limits.max_position.get(f.symbol, self.limits.default_max_position)
        pos = self.positions.get(ev.client, f.symbol).qty
        if abs(pos) > max_pos:
            algo = f.parent_id.removeprefix("algo:") or f.child_id.partition(".")[0]
            why = f"POSITION_LIMIT: {f.symbol} position {pos} beyond +/-{max_pos} after a fill of {algo}"
            task = asyncio.get_running_loop().create_task(self.halt_breach(ev.client, f.symbol, why))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def order_owner(self, venue: str, client_order_id: str) -> tuple[str, str] | None:
        """(client, algo) when an edge's order id is one of an algo's ("<algo>.<id>", docs/wasm-abi.md)."""
        name, dot, _ = client_order_id.partition(".")
        record = self.store.records.get(name) if dot else None
        if record is None or venue not in record.edges:
            return None
        return record.owner, name

    # -- the API's operations ----------------------------------------------------------------

    async def deploy(self, *, name: str, wasm: bytes, symbol: str, edges: list[str], params: dict[str, str],
                     running: bool, owner: str, source: str = "api") -> dict[str, Any]:
        if not NAME.match(name):
            raise ApiError("INVALID_ALGO_NAME", f"algo name {name!r} must be 1-24 lowercase letters, digits or "
                           "'-', starting and ending with a letter or digit")
        existing = self.store.records.get(name)
        if existing is not None and existing.owner != owner:
            raise ApiError("ALGO_EXISTS", f"algo {name!r} belongs to another client", 409)
        try:
            await asyncio.to_thread(validate, wasm)  # a compile: off the order path's event loop
        except InvalidWasm as exc:
            raise ApiError("INVALID_WASM", str(exc), 400, reason=exc.reason) from None
        venues = sorted(set(edges))
        if not venues:
            raise ApiError("NO_EDGES", "name at least one edge to run the algo on")
        unknown = [v for v in venues if v not in self.edges]
        if unknown:
            raise ApiError("UNKNOWN_EDGE", f"no edge {', '.join(unknown)} in region {self.region} "
                           f"(edges: {', '.join(sorted(self.edges))})", 404)
        for v in venues:
            link = self.edges[v]
            if link.info is not None and link.instrument(symbol) is None:
                raise ApiError("UNKNOWN_SYMBOL", f"edge {v} does not trade {symbol}")
        bad = [k for k, val in params.items() if not PARAM_KEY.match(k) or "\n" in val or len(val) > 1024]
        if bad:
            raise ApiError("INVALID_PARAMS", f"parameters {bad}: keys are 1-64 of [A-Za-z0-9_.-], values one "
                           "line of at most 1024 characters")
        record = AlgoRecord(name, symbol, venues, digest(wasm), len(wasm), owner, running, dict(params), source)
        if existing is not None:
            record.created_ns = existing.created_ns
        self.store.put(record, wasm)
        self._retarget()
        dropped = sorted(set(existing.edges) - set(venues)) if existing else []
        results = await asyncio.gather(*(self._push(record, v) for v in venues),
                                       *(self._remove_from(name, v) for v in dropped))
        return self.view(record, list(results[: len(venues)]))

    async def set_running(self, name: str, running: bool, owner: str) -> dict[str, Any]:
        record = self.owned(name, owner)
        record.running = running
        record.halted = ""
        self.store.put(record)
        self._retarget()
        results = await asyncio.gather(*(self._control(record, v) for v in record.edges))
        return self.view(record, list(results))

    async def delete(self, name: str, owner: str) -> dict[str, Any]:
        record = self.owned(name, owner)
        results = await asyncio.gather(*(self._remove_from(name, v) for v in record.edges))
        self.store.delete(name)
        for v in record.edges:
            self._refused.pop((name, v), None)
        self._retarget()
        return self.view(record, list(results), state="Deleted")

    async def halt_all(self, client: str | None = None) -> int:
        """A kill switch turned on: the algos it covers stop (the region's: every algo; a client's:
        that client's) until it is turned off (`lift`) or their client starts them again."""
        return await self._halt([r for r in self.store.records.values()
                                 if r.running and (client is None or r.owner == client)], _kill_reason(client))

    async def lift(self, client: str | None, region_on: bool, killed_clients: Collection[str]) -> int:
        """A kill switch turned off: the algos it stopped run again, but for those another switch
        still covers (the region's, or their client's own), which now say that one stopped them."""
        lifted = [r for r in self.store.records.values() if r.halted == _kill_reason(client)
                  and (client is None or r.owner == client)]
        resumed = []
        for record in lifted:
            still = _kill_reason(None) if region_on else (
                _kill_reason(record.owner) if record.owner in killed_clients else "")
            record.running, record.halted = not still, still
            self.store.put(record)
            if not still:
                resumed.append(record)
                log.info("algo %s of %s runs again: %s", record.name, record.owner, "its kill switch is off")
        self._retarget()
        await asyncio.gather(*(self._control(r, v) for r in resumed for v in r.edges))
        return len(resumed)

    async def halt_breach(self, client: str, symbol: str, why: str) -> int:
        """The client's position is beyond its limit through its algos' fills (each instance keeps
        to the limit, several together may not): stop the client's algos on that symbol."""
        return await self._halt([r for r in self.store.records.values()
                                 if r.running and r.owner == client and r.symbol == symbol], why)

    async def _halt(self, records: list[AlgoRecord], why: str) -> int:
        for record in records:
            record.running = False
            record.halted = why
            self.store.put(record)
            log.warning("algo %s of %s stopped: %s", record.name, record.owner, why)
        self._retarget()
        await asyncio.gather(*(self._control(r, v) for r in records for v in r.edges))
        return len(records)

    def owned(self, name: str, owner: str) -> AlgoRecord:
        record = self.visible(name, owner)
        if record.owner != owner:
            raise ApiError("ALGO_MANAGED_BY_KUBERNETES", f"algo {name!r} comes from an Algo manifest: change it "
                           "with kubectl (or GitOps), not through the API", 409)
        return record

    def visible(self, name: str, viewer: str) -> AlgoRecord:
        record = self.store.records.get(name)
        if record is None or record.owner not in (viewer, SHARED_OWNER):
            raise ApiError("ALGO_NOT_FOUND", f"no algo {name!r}", 404)
        return record

    async def statuses(self, viewer: str | None = None, name: str = "") -> list[dict[str, Any]]:
        """Per-edge state of the algos `viewer` deployed and the shared (Kubernetes) ones."""
        records = [r for n, r in sorted(self.store.records.items())
                   if (viewer is None or r.owner in (viewer, SHARED_OWNER)) and (not name or n == name)]
        live = await asyncio.gather(*(self._edge_statuses(v) for v in self.edges))
        by_edge = dict(zip(self.edges, live, strict=True))
        return [self.view(r, [(by_edge[v] or {}).get(r.name) or self._absent(r, v, by_edge[v] is not None)
                              for v in r.edges]) for r in records]

    def _absent(self, record: AlgoRecord, venue: str, reachable: bool) -> dict[str, Any]:
        """An algo its edge does not run: refused (this binary, for good) or not there yet."""
        sha, why = self._refused.get((record.name, venue), ("", ""))
        if sha == record.sha256:
            return {"edge": venue, "state": "Refused", "reason": why}
        return _pending(venue, reachable)

    async def logs(self, name: str, viewer: str) -> dict[str, list[str]]:
        record = self.visible(name, viewer)

        async def one(venue: str) -> list[str]:
            try:
                return await self.edges[venue].client.algo_logs(name, timeout=5)
            except grpc.aio.AioRpcError as exc:
                return [f"(edge unavailable: {exc.code().name})"]

        lines = await asyncio.gather(*(one(v) for v in record.edges))
        return dict(zip(record.edges, lines, strict=True))

    def view(self, record: AlgoRecord, edges: list[dict[str, Any]], state: str | None = None) -> dict[str, Any]:
        states = {e.get("state") for e in edges}
        want = "Running" if record.running else "Stopped"
        overall = (want if states == {want} else "Refused" if states == {"Refused"}
                   else "Degraded" if states & {"Failed", "Refused"} else "Progressing")
        return {"name": record.name, "symbol": record.symbol, "sha256": record.sha256, "size": record.size,
                "owner": record.owner, "params": record.params, "source": record.source,
                "desired": want, "halted": record.halted or None, "state": state or overall,
                "created_ns": record.created_ns, "updated_ns": record.updated_ns, "edges": edges}

    # -- pushing to edges ----------------------------------------------------------------------

    def _edge_limits(self, symbol: str) -> pb.AlgoLimits:
        lim = self.limits
        return pb.AlgoLimits(max_order_notional=str(lim.max_order_notional),
                             max_position=str(lim.max_position.get(symbol, lim.default_max_position)))

    async def _push(self, record: AlgoRecord, venue: str) -> dict[str, Any]:
        link = self.edges[venue]
        if not link.connected:
            return _pending(venue, False)
        try:
            # The siblings' addresses: a public-SDK algo's mesh table (the edge takes the parameter off).
            params = {**record.params, PEERS_PARAM: ",".join(f"{self.region}/{v}" for v in record.edges)}
            status = await link.client.deploy_algo(
                record.name, self.store.binary(record.sha256), record.symbol, params=params,
                limits=self._edge_limits(record.symbol), running=record.running, owner=record.owner, timeout=30)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in _EDGE_AWAY:  # the edge answered: it will not run this binary
                self._refused[(record.name, venue)] = (record.sha256, exc.details() or exc.code().name)
                return self._absent(record, venue, True)
            return _pending(venue, False, f"{exc.code().name}: {exc.details()}")
        self._refused.pop((record.name, venue), None)
        return _status_view(venue, status)

    async def _control(self, record: AlgoRecord, venue: str) -> dict[str, Any]:
        link = self.edges[venue]
        if not link.connected:
            return _pending(venue, False)
        try:
            return _status_view(venue, await link.client.control_algo(record.name, record.running, timeout=10))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # the edge restarted and lost it: deploy again
                return await self._push(record, venue)
            return _pending(venue, False, f"{exc.code().name}: {exc.details()}")

    async def _remove_from(self, name: str, venue: str) -> dict[str, Any]:
        link = self.edges[venue]
        try:
            if link.connected:
                await link.client.control_algo(name, False, remove=True, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("removing %s from %s: %s", name, venue, exc.details())
        return {"edge": venue, "state": "Removed"}  # an edge that missed it is cleaned on reconnect

    async def _edge_statuses(self, venue: str) -> dict[str, dict[str, Any]] | None:
        link = self.edges[venue]
        if not link.connected:
            return None
        try:
            return {s.name: _status_view(venue, s) for s in await link.client.algos(timeout=3)}
        except grpc.aio.AioRpcError:
            return None

    async def sync_edge(self, link: EdgeLink) -> None:
        """Bring a (re)connected edge to the stored state."""
        on_edge = {s.name: s for s in await link.client.algos(timeout=10)}
        for name in on_edge.keys() - {n for n, r in self.store.records.items() if link.venue in r.edges}:
            await link.client.control_algo(name, False, remove=True, timeout=10)
        for record in list(self.store.records.values()):
            if link.venue not in record.edges:
                continue
            have = on_edge.get(record.name)
            if have is None or have.sha256 != record.sha256:
                await self._push(record, link.venue)
            elif have.state != "Failed" and (have.state == "Running") != record.running:
                await link.client.control_algo(record.name, record.running, timeout=10)

    # -- the algo link: messages and NBBO ------------------------------------------------------

    async def run_link(self, link: EdgeLink) -> None:
        """One edge's algo link, for as long as the edge link is up (EdgeLink runs it)."""
        await self.sync_edge(link)
        box: asyncio.Queue[pb.AlgoDown] = asyncio.Queue()
        self.down[link.venue] = box
        self._last_nbbo.clear()  # the edge gets a fresh NBBO on the next book change

        async def outgoing() -> AsyncIterator[pb.AlgoDown]:
            while True:
                yield await box.get()

        try:
            async for up in link.client.algo_link(outgoing()):
                if up.HasField("message"):
                    self.route(up.message)
        finally:
            if self.down.get(link.venue) is box:
                del self.down[link.venue]

    def route(self, msg: pb.AlgoMessage, from_peer: bool = False) -> int:
        """To every other instance of the algo here; a local sender's message also to peer regions."""
        record = self.store.records.get(msg.algo)
        delivered = 0
        if record is not None:
            region, _, sender_venue = msg.sender.partition("/")
            for venue in record.edges:
                if region == self.region and venue == sender_venue:
                    continue
                box = self.down.get(venue)
                if box is not None:
                    box.put_nowait(pb.AlgoDown(message=msg))
                    delivered += 1
        self.routed += delivered
        if not from_peer and self.mesh is not None:
            self.mesh.send_algo_message(msg)
        return delivered

    def from_peer(self, msg: pb.AlgoMessage) -> None:
        self.from_peers += 1
        self.route(msg, from_peer=True)

    def _retarget(self) -> None:
        targets: dict[str, list[str]] = {}
        for r in self.store.records.values():
            if r.running:
                venues = targets.setdefault(r.symbol, [])
                venues += [v for v in r.edges if v not in venues]
        self._nbbo_targets = targets

    def on_book_change(self, symbol: str) -> None:
        venues = self._nbbo_targets.get(symbol)
        if not venues:
            return
        top = self.marketdata.top(symbol)
        books = self.marketdata.venue_books(symbol, live_only=True)
        tops = (top, tuple(vb.best() for vb in books))  # a venue's own top moving is news to public-SDK algos
        if tops == self._last_nbbo.get(symbol):
            return
        self._last_nbbo[symbol] = tops
        bid, bid_qty, bid_venue, ask, ask_qty, ask_venue = top
        item = pb.AlgoDown(nbbo=pb.Nbbo(
            symbol=symbol, bid=_s(bid), bid_qty=_s(bid_qty), bid_venue=bid_venue, ask=_s(ask), ask_qty=_s(ask_qty),
            ask_venue=ask_venue, ts_ns=time.time_ns(), venues=[_depth(vb) for vb in books]))
        for venue in venues:
            box = self.down.get(venue)
            if box is not None:
                box.put_nowait(item)


def _kill_reason(client: str | None) -> str:
    """What an algo stopped by a kill switch says (and how `lift` finds it)."""
    return "the region's kill switch is on" if client is None else f"the kill switch of client {client!r} is on"


def _depth(vb: VenueBook) -> pb.VenueDepth:
    levels = [[vb.level_at(is_bid, i) for i in range(20)] for is_bid in (True, False)]
    bids, asks = ([pb.Level(price=str(p), qty=str(q)) for p, q in filter(None, side)] for side in levels)
    return pb.VenueDepth(venue=vb.venue, region=vb.region, bids=bids, asks=asks,
                         age_ms=int(max(0.0, time.monotonic() - vb.last_update) * 1000))


def _s(d: Decimal | None) -> str:
    return "" if d is None else str(d)


#: a deploy that failed on the way, not on the edge's judgement: sent again when the edge is back
_EDGE_AWAY = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})


def _pending(venue: str, reachable: bool, reason: str = "") -> dict[str, Any]:
    return {"edge": venue, "state": "Pending",
            "reason": reason or ("not on the edge yet" if reachable
                                 else "edge not connected: deployed when it is back")}


def _status_view(venue: str, s: pb.AlgoStatus) -> dict[str, Any]:
    return {"edge": venue, "state": s.state, "reason": s.reason or None, "sha256": s.sha256, "code_tier": s.code_tier,
            "calls": s.calls, "fuel_used": s.fuel_used, "traps": s.traps, "messages": s.messages,
            "received": s.received, "rejected_messages": s.rejected_messages, "orders": s.orders,
            "denied": s.denied, "fills": s.fills, "position": s.position, "open_orders": s.open_orders,
            "message_latency_us": {"p50": s.message_latency_p50_us, "p99": s.message_latency_p99_us}}
