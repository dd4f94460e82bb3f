"""One simulated venue: engine, synthetic flow, and its dialect (Binance or OKX) served on one port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal

from aiohttp import web

from .config import VenueSettings
from .flow import SyntheticFlow
from .instruments import resolve
from .matching import Fees, MatchingEngine
from .okx_rest import OkxRest
from .okx_streams import OkxStreamHub
from .rest import BinanceRest
from .rest_base import DialectRest
from .streams import SocketHub, StreamHub

log = logging.getLogger(__name__)


class SimVenue:
    def __init__(self, settings: VenueSettings) -> None:
        self.settings = settings
        self.engine = MatchingEngine(resolve(settings.symbols), Fees(settings.maker_fee, settings.taker_fee))
        for key in settings.api_keys:
            self.engine.accounts.open(key, dict(settings.starting_balances))
        self.flow = SyntheticFlow(self.engine, settings)
        self.rest: DialectRest
        self.hub: SocketHub
        if settings.dialect == "okx":
            self.rest = OkxRest(self.engine, settings)
            self.hub = OkxStreamHub(self.engine, settings.depth_interval_ms, settings.extra_latency_ms)
        else:
            self.rest = BinanceRest(self.engine, settings.api_keys, settings.extra_latency_ms, settings.key_permissions)
            self.hub = StreamHub(self.engine, settings.depth_interval_ms, settings.extra_latency_ms)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port: int | None = None
        self.flow_paused = False

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.rest.middleware])
        app.add_routes(self.rest.routes())
        if self.settings.dialect == "okx":
            app.add_routes([web.get("/ws/v5/public", self.hub.handle)])
        else:
            app.add_routes([web.get("/stream", self.hub.handle), web.get("/stream/{index}", self.hub.handle),
                            web.get("/ws", self.hub.handle), web.get("/ws/{index}", self.hub.handle)])
        return app

    def urls(self, host: str) -> tuple[str, str]:
        """Where the dialect's REST and WebSocket sides are served."""
        base = f"{host}:{self.port}"
        if self.settings.dialect == "okx":
            return f"http://{base}/api/v5", f"ws://{base}/ws/v5/public"
        return f"http://{base}/api/v3", f"ws://{base}/stream"

    async def _flow_loop(self) -> None:
        interval = self.settings.flow.interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if not self.flow_paused:
                try:
                    self.flow.step()
                except Exception:  # the flow must never take the venue down
                    log.exception("synthetic flow step failed")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        # A first book exists before anyone connects.
        for _ in range(3):
            self.flow.step()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._tasks = [asyncio.create_task(self._flow_loop()), asyncio.create_task(self.hub.run_depth_flusher())]
        log.info("venue %s listening on %s:%s", self.settings.venue, host, self.port)
        return self.port

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()

    def mid(self, symbol: str) -> Decimal:
        return self.flow.mid(symbol)
