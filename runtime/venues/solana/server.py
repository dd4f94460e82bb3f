"""The Solana venue process: the bank on a slot clock, the maker, and HTTP on one port.

- `POST /`: Solana JSON-RPC (rpc.py)
- `GET /rfq/markets`: the markets, their mints and decimals, the venue's public key
- `GET /rfq/levels[?symbol=]`: the maker's current levels (public market data)
- `POST /rfq/quote` `{symbol, side, qty, taker}`: a quote with its transaction, signed by the venue
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from solders.pubkey import Pubkey

from .bank import Bank, ChainSettings
from .genesis import create
from .maker import Maker, MakerSettings
from .markets import TOKEN_DECIMALS, resolve
from .rfq import QuoteDesk, QuoteRefused
from .rpc import SolanaRpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VenueSettings:
    seed: int = 1
    symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")
    chain: ChainSettings = field(default_factory=ChainSettings)
    maker: MakerSettings = field(default_factory=MakerSettings)
    quote_ttl_blocks: int = 40  # ~16 s at mainnet's slot time
    flow_interval_ms: float = 500.0  # how often the maker's mid moves
    takers: tuple[Pubkey, ...] = ()
    #: what the network does to sent transactions (tests of in-flight crashes and of expiry)
    send_latency_ms: float = 0.0
    drop_transactions: int = 0


class SolanaVenue:
    def __init__(self, settings: VenueSettings) -> None:
        self.settings = settings
        self.bank = Bank(settings.chain)
        self.genesis = create(self.bank, settings.seed, list(settings.takers))
        for _ in range(settings.chain.max_age):  # a full queue of blockhashes, so quotes can be aged
            self.bank.tick()
        self.maker = Maker(resolve(list(settings.symbols)), settings.seed, settings.maker)
        self.desk = QuoteDesk(self.bank, self.genesis, self.maker, settings.quote_ttl_blocks)
        self.rpc = SolanaRpc(self.bank, settings.drop_transactions)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.add_routes([web.post("/", self._rpc), web.get("/rfq/markets", self._markets),
                        web.get("/rfq/levels", self._levels), web.post("/rfq/quote", self._quote)])
        return app

    async def _rpc(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.settings.send_latency_ms and b'"sendTransaction"' in body:
            await asyncio.sleep(self.settings.send_latency_ms / 1000)  # on its way to the leader
        return web.json_response(self.rpc.handle(body))

    async def _markets(self, _request: web.Request) -> web.Response:
        g = self.genesis
        return web.json_response({
            "venue": str(g.venue.pubkey()), "maxAge": self.settings.chain.max_age,
            "quoteTtlBlocks": self.settings.quote_ttl_blocks,
            "markets": [{
                "symbol": m.symbol, "base": m.base, "quote": m.quote, "baseMint": str(g.mints[m.base]),
                "quoteMint": str(g.mints[m.quote]), "baseDecimals": TOKEN_DECIMALS[m.base],
                "quoteDecimals": TOKEN_DECIMALS[m.quote], "tick": str(m.tick), "lot": str(m.lot),
                "minQty": str(m.min_qty), "minNotional": str(m.min_notional),
            } for m in self.maker.markets.values()],
        })

    def levels(self, symbol: str) -> dict[str, Any]:
        bids, asks = self.maker.levels(symbol)
        return {"symbol": symbol, "version": self.maker.version, "slot": self.bank.slot,
                "ts": int(time.time() * 1000),
                "bids": [[str(p), str(q)] for p, q in bids], "asks": [[str(p), str(q)] for p, q in asks]}

    async def _levels(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        if symbol is None:
            return web.json_response({"levels": [self.levels(s) for s in self.maker.markets]})
        if symbol not in self.maker.markets:
            return web.json_response({"error": f"unknown symbol {symbol!r}"}, status=404)
        return web.json_response(self.levels(symbol))

    async def _quote(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise QuoteRefused("the body must be a JSON object {symbol, side, qty, taker}")
            quote = self.desk.quote(str(body.get("symbol")), str(body.get("side")), str(body.get("qty")),
                                    str(body.get("taker")))
        except (QuoteRefused, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(quote.to_json())

    async def _slots(self) -> None:
        """Slots follow the wall clock (a slow turn of the loop catches up, as a chain does)."""
        period = self.settings.chain.slot_ms / 1000
        start, done = time.monotonic(), 0
        while True:
            due = int((time.monotonic() - start) / period)
            while done < due:
                done += 1
                self.bank.tick()
            await asyncio.sleep(max(start + (done + 1) * period - time.monotonic(), 0))

    async def _flow(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flow_interval_ms / 1000)
            self.maker.step()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = int(self._runner.addresses[0][1])
        self._tasks = [asyncio.create_task(self._slots()), asyncio.create_task(self._flow())]
        log.info("solana venue listening on %s:%s", host, self.port)
        return self.port

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
