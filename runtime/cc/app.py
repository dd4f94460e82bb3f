"""One Central Coordinator process: the composition root. It builds the CC's components, wires
them through their constructors and the bus, and starts and stops them; it decides nothing.

FastAPI on uvicorn, the edge links, the peer mesh and the schedulers share one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import grpc
import uvicorn
from seqmesh.runtime.links.tls import TlsFiles, server_credentials
from seqmesh.runtime.proto import peer_pb2_grpc as ppbg

from . import https
from .algos.configmaps import ConfigMapAlgos
from .algos.manager import AlgoManager
from .algos.store import AlgoStore
from .api.deps import ApiDeps
from .api.metrics import Metrics
from .api.rest import build_app
from .bus import Bus
from .clients import ClientRegistry
from .clock import Clock, SystemClock
from .config import CCSettings
from .credentials.vault import CredentialVault
from .edges import EdgeLink
from .execalgos.scheduler import AlgoScheduler
from .marketdata import MarketData
from .mesh.home import RemoteHome
from .mesh.peers import PeerMesh, PeerService, PeerState
from .orders.booking import Booking
from .orders.cache import OrderCache
from .orders.dispatch import Dispatcher
from .orders.engine import OrderEngine
from .orders.ids import OrderIds
from .orders.reroute import Rerouter
from .positions import Positions
from .risk import RiskEngine, kill_switch_flag
from .routing.candidates import Candidates
from .routing.reservations import Reservations
from .routing.sor import Router
from .startup import RISK_DAY, Cursors, recover
from .store import LedgerStore, ledger_url, open_store, redacted

log = logging.getLogger(__name__)


class CCApp:
    """Built in two steps: what needs no ledger at construction, the rest in `start()` once the
    ledger is open (PostgreSQL connects asynchronously) and what it holds is read back."""

    def __init__(self, settings: CCSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.tls = TlsFiles(settings.ca, settings.cert, settings.key).check()
        self.bus = Bus()
        self.marketdata = MarketData(settings.stale_after_s, self.bus)
        self.ledger_url = ledger_url(settings.ledger_url, settings.db_path)
        self.peer_server: grpc.aio.Server | None = None
        self.peer_port = 0
        self.metrics = Metrics()
        self._tasks: list[asyncio.Task[None]] = []
        self.server: uvicorn.Server | None = None
        self.port = 0
        self.store: LedgerStore | None = None

    async def _open(self) -> None:
        settings, clock, bus, md = self.settings, self.clock, self.bus, self.marketdata
        self.store = store = await open_store(self.ledger_url, settings.durability)
        log.info("ledger %s (schema %d)", redacted(self.ledger_url), await store.schema_version())
        got = await recover(store)
        self.cursors = cursors = Cursors(store, got.cursors, got.venues_routed)
        self.positions = positions = Positions()
        positions.rebuild_from(got.fills)
        def save_day(day: dict[str, Any]) -> None:
            store.set_flag(RISK_DAY, json.dumps(day))
            store.commit_soon()

        self.risk = RiskEngine(settings.risk, positions, md.mid, kill_switch=got.kill_switch, clock=clock,
                               day=got.risk_day, save_day=save_day)
        self.risk.roll_day()
        self.clients = await ClientRegistry.load(store, settings.clients)
        for client in self.clients.by_id:  # clients whose own kill switch was on
            if await store.flag(kill_switch_flag(client)) == "on":
                self.risk.set_client_kill_switch(client, True)
        self.cache = cache = OrderCache(store, got.live, settings.final_orders_in_memory)
        self.edges: dict[str, EdgeLink] = {}
        self.mesh: PeerMesh | None = None
        if settings.listen_peer is not None:
            self.mesh = PeerMesh(settings.region, self.tls, md,
                                 [PeerState(p.region, p.endpoint, p.ca) for p in settings.peers], settings.peer_probe_s)
        self.algos = AlgoManager(settings.region, AlgoStore(settings.db_path.parent / "algos"), self.edges, md,
                                 settings.risk, bus, positions, self.mesh)
        self.booking = Booking(store, cursors, cache, positions, bus, clock, settings.router.max_reroutes,
                               self.algos.order_owner, md.fee_rate)
        self.reservations = Reservations(cache.live_children, md.mid,
                                         lambda client, venue: self.credentials.account(client, venue))
        self.home: RemoteHome | None = None
        if self.mesh is not None:
            self.home = RemoteHome(self.mesh, self.edges, store, cursors, got.remote_children, md, self.reservations,
                                   self.booking.on_edge_events, self.algos.from_peer,
                                   lambda credential_id: credential_id in self.credentials.by_id)
            self.home.client_of.update(await store.remote_child_clients())
            self.home.forwarded.update(await store.forwarded_credentials())  # whose accounts, before any peer links
            self.mesh.attach(self.home)
            self.booking.relay = self.home
        for e in settings.edges:
            self.edges[e.venue] = EdgeLink(e.venue, e.address, self.tls, settings.region, md,
                                           self.booking.on_edge_events, cursors.get, settings.balance_refresh_s,
                                           mirror=self.mesh, algo_task=self.algos.run_link)
        self.credentials = CredentialVault(store, self.edges, lambda client, venue: any(
            p.client == client and c.venue == venue and not c.done for p, c in cache.live_children()), self.mesh)
        await self.credentials.load()
        for link in self.edges.values():
            link.on_info.append(self.credentials.sync)
        self.candidates = Candidates(md, self.edges, self.reservations, self.mesh, self.credentials.account)
        router = Router(settings.router.drift_bps_per_ms)
        self.dispatcher = Dispatcher(self.edges, self.mesh, store, self.booking, cache, clock,
                                     self.credentials.account)
        self.rerouter = Rerouter(bus, store, md, self.candidates, router, self.booking, self.dispatcher,
                                 settings.router.max_reroutes)
        ids = OrderIds(settings.region, clock)
        self.engine = OrderEngine(store, cache, md, self.candidates, router, self.risk, self.booking,
                                  self.dispatcher, bus, clock, ids, cursors)
        self.scheduler = AlgoScheduler(self.engine, cache, store, md, self.risk, bus, clock, ids)
        for parent in cache.live_parents():  # states are derived: bring them up to date after a restart
            self.booking.settle(parent)
        self.algo_configmaps = (ConfigMapAlgos(self.algos, settings.watch_algos_namespace, settings.region)
                                if settings.watch_algos_namespace else None)
        self.api = build_app(ApiDeps(settings=settings, engine=self.engine, cache=cache, marketdata=md,
                                     positions=positions, risk=self.risk, edges=self.edges, mesh=self.mesh,
                                     home=self.home, algos=self.algos, booking=self.booking,
                                     credentials=self.credentials,
                                     scheduler=self.scheduler, clients=self.clients),
                             self.metrics)

    async def start(self) -> int:
        await self._open()
        if self.mesh is not None and self.settings.listen_peer is not None:
            # Peers authenticate with certificates from their own regions' CAs: trust exactly those
            # (re-read with rotated files at the next handshake).
            creds = server_credentials(self.tls, roots=self.mesh.trusted_roots)
            self.peer_server = grpc.aio.server()
            ppbg.add_PeerServicer_to_server(PeerService(self.mesh), self.peer_server)
            self.peer_port = self.peer_server.add_secure_port(self.settings.listen_peer, creds)
            await self.peer_server.start()
            self._tasks.append(asyncio.create_task(self.mesh.run()))
        for link in self.edges.values():
            self._tasks.append(asyncio.create_task(link.run()))
        if self.algo_configmaps is not None:
            self._tasks.append(asyncio.create_task(self.algo_configmaps.run()))
        self._tasks.append(asyncio.create_task(self._resend_loop()))
        self._tasks.append(asyncio.create_task(self._day_loop()))
        await self.scheduler.resume_all()
        host, _, port = self.settings.listen_http.rpartition(":")
        config = uvicorn.Config(self.api, host=host, port=int(port), log_level="warning", lifespan="off",
                                http="httptools", access_log=False, **https.uvicorn_options(self.settings.api_tls))
        self.server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self.server.serve()))
        while not self.server.started:
            await asyncio.sleep(0.01)
            if self._tasks[-1].done():
                self._tasks[-1].result()  # surfaces a bind error
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        if self.settings.api_tls is not None:
            self._tasks.append(asyncio.create_task(https.follow_rotation(self.server, self.settings.api_tls)))
        return self.port

    async def _day_loop(self) -> None:
        """Each daily reset, on time (PnL marked then, not at the first order after it)."""
        while True:
            now = self.clock.now_ns()
            await self.clock.sleep((self.risk.next_boundary_ns(now) - now) / 1e9)
            self.risk.roll_day()

    async def _resend_loop(self) -> None:
        """Children written to the ledger but not acknowledged by an edge are sent again."""
        while True:
            await asyncio.sleep(0.5)
            try:
                await self.dispatcher.resend_unsent()
            except Exception:
                log.exception("resend sweep failed")

    async def stop(self) -> None:
        if self.store is None:
            return  # never started
        if self.peer_server is not None:
            await self.peer_server.stop(grace=0.5)
        if self.server is not None:
            self.server.should_exit = True
        await self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for link in self.edges.values():
            await link.close()
        await self.store.close()
