"""One Central Coordinator process: FastAPI on uvicorn and the edge links, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
import uvicorn
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import peer_pb2_grpc as ppbg

from .algo_watch import ConfigMapAlgos
from .algos import AlgoManager
from .algostore import AlgoStore
from .api import build_app
from .config import CCSettings
from .edges import EdgeLink
from .execution import ExecutionEngine
from .ledger import Ledger
from .marketdata import MarketData
from .metrics import Metrics
from .peers import PeerMesh, PeerService, PeerState
from .sor import Router

log = logging.getLogger(__name__)


class CCApp:
    def __init__(self, settings: CCSettings) -> None:
        self.settings = settings
        self.tls = TlsFiles(settings.ca, settings.cert, settings.key).check()
        self.ledger = Ledger(settings.db_path, settings.durability)
        self.marketdata = MarketData(settings.stale_after_s)
        self.engine = ExecutionEngine(settings, self.ledger, self.marketdata, Router(settings.router.drift_bps_per_ms))
        for e in settings.edges:
            self.engine.edges[e.venue] = EdgeLink(e.venue, e.address, self.tls, settings.region, self.marketdata,
                                                  self.engine.on_edge_events, self.ledger.cursor,
                                                  settings.balance_refresh_s)
        self.mesh: PeerMesh | None = None
        if settings.listen_peer is not None:
            self.mesh = PeerMesh(settings.region, self.tls, self.marketdata,
                                 [PeerState(p.region, p.endpoint, p.ca) for p in settings.peers], settings.peer_probe_s)
            for link in self.engine.edges.values():
                link.mesh = self.mesh
            self.engine.mesh = self.mesh
            self.mesh.on_allocate = self.engine.submit_remote
            self.mesh.on_cancel = self.engine.cancel_remote
            self.mesh.on_remote_events = self.engine.on_edge_events
            self.mesh.on_resume = self.engine.resume_remote
            self.mesh.remote_cursors = self.engine.remote_cursors
        self.algos = AlgoManager(settings.region, AlgoStore(settings.db_path.parent / "algos"), self.engine.edges,
                                 self.marketdata, settings.risk, self.mesh)
        self.engine.algo_order = self.algos.order_owner
        self.engine.on_algo_breach = self.algos.halt_breach
        for link in self.engine.edges.values():
            link.algo_task = self.algos.run_link
        self.algo_configmaps = (ConfigMapAlgos(self.algos, settings.watch_algos_namespace, settings.region)
                                if settings.watch_algos_namespace else None)
        self.peer_server: grpc.aio.Server | None = None
        self.peer_port = 0
        self.metrics = Metrics()
        self.api = build_app(self.engine, self.metrics, settings.region, self.mesh, self.algos)
        self._tasks: list[asyncio.Task[None]] = []
        self.server: uvicorn.Server | None = None
        self.port = 0

    async def start(self) -> int:
        if self.mesh is not None and self.settings.listen_peer is not None:
            # Peers authenticate with certificates from their own regions' CAs: trust exactly those.
            roots = b"".join(p.ca.read_bytes() for p in self.settings.peers) or self.tls.ca.read_bytes()
            creds = grpc.ssl_server_credentials([(self.tls.key.read_bytes(), self.tls.cert.read_bytes())],
                                                root_certificates=roots, require_client_auth=True)
            self.peer_server = grpc.aio.server()
            ppbg.add_PeerServicer_to_server(PeerService(self.mesh), self.peer_server)
            self.peer_port = self.peer_server.add_secure_port(self.settings.listen_peer, creds)
            await self.peer_server.start()
            self._tasks.append(asyncio.create_task(self.mesh.run()))
        for link in self.engine.edges.values():
            self._tasks.append(asyncio.create_task(link.run()))
        if self.algo_configmaps is not None:
            self._tasks.append(asyncio.create_task(self.algo_configmaps.run()))
        self._tasks.append(asyncio.create_task(self._resend_loop()))
        host, _, port = self.settings.listen_http.rpartition(":")
        config = uvicorn.Config(self.api, host=host, port=int(port), log_level="warning", lifespan="off",
                                http="httptools",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self.server.serve()))
        while not self.server.started:
            await asyncio.sleep(0.01)
            if self._tasks[-1].done():
                self._tasks[-1].result()  # surfaces a bind error
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self.port

    async def _resend_loop(self) -> None:
        """Children written to the ledger but not acknowledged by an edge are sent again."""
        while True:
            await asyncio.sleep(0.5)
            try:
                await self.engine.resend_unsent()
            except Exception:
                log.exception("resend sweep failed")

    async def stop(self) -> None:
        if self.peer_server is not None:
            await self.peer_server.stop(grace=0.5)
        if self.server is not None:
            self.server.should_exit = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for link in self.engine.edges.values():
            await link.close()
        self.ledger.close()
