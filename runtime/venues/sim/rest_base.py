"""What every dialect's REST side does alike: take a request off the wire whole and carry it
out come what may, add the configured latency, keep the recent public trades, read decimals."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from aiohttp import web

from .matching import MatchingEngine, PublicTrade

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Plain non-negative decimals only: no exponent, sign, spaces or more digits than a venue takes.
PLAIN_DECIMAL = re.compile(r"^\d{1,20}(\.\d{1,20})?$")
#: Public trades a venue serves on its recent-trades endpoint at most.
RECENT_TRADES = 1000


def plain_decimal(text: str) -> Decimal | None:
    """`text` as a Decimal if it is a plain decimal number, else None."""
    if not PLAIN_DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class DialectRest:
    """Base of a dialect's REST side; a dialect answers in `_answer`, mapping its own errors."""

    def __init__(self, engine: MatchingEngine, latency_ms: float) -> None:
        self.engine = engine
        self.latency_s = latency_ms / 1000
        self.recent_trades: dict[str, deque[PublicTrade]] = {
            s: deque(maxlen=RECENT_TRADES) for s in engine.instruments}
        engine.trade_listeners.append(lambda t: self.recent_trades[t.symbol].append(t))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # A venue carries out a request it received even if the client hangs up meanwhile:
        # take the whole request off the wire first, then work on it come what may.
        if request.can_read_body:
            await request.read()
        return await asyncio.shield(self._delayed(request, handler))

    async def _delayed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return await self._answer(request, handler)

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raise NotImplementedError
