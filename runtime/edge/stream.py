"""The venue's WebSocket side through ccxt.pro: books and trades into the `BookFeed`.

For the Binance dialect (Binance itself and the simulator) the edge subclasses ccxt.pro's
`binance` and taps the two places where raw frames become book state — the REST snapshot
and each diff frame — so the local book receives the venue's exact decimal strings while
ccxt keeps doing the `U`/`u` sequencing and resync. Other venues (OKX, and its dialect on the
simulator) go through the generic path: each book ccxt returns is compared with the previous
one, level by level, ccxt keeping each venue's own sequencing (OKX's seqId/prevSeqId).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxt_pro

from .feed import BookFeed

log = logging.getLogger(__name__)


class TappedBinance(ccxt_pro.binance):  # type: ignore[misc]
    """ccxt.pro's binance, unchanged except that raw book and trade frames also reach the feed."""

    feed: BookFeed | None = None

    async def fetch_rest_order_book_safe(self, symbol: str, limit: int | None = None,
                                         params: dict[str, Any] | None = None) -> Any:
        market = self.market(symbol)
        request = {"symbol": market["id"], "limit": limit or 1000}
        for attempt in range(3):
            try:
                raw = await self.publicGetDepth(request)
                break
            except Exception:
                if attempt == 2:
                    raise
        if self.feed is not None:
            self.feed.on_snapshot(symbol, raw["bids"], raw["asks"], self.milliseconds(),
                                  int(raw.get("lastUpdateId") or 0))
        book = self.parse_order_book(raw, symbol)
        book["nonce"] = self.safe_integer(raw, "lastUpdateId")
        return book

    def handle_order_book_message(self, client: Any, message: dict[str, Any], orderbook: Any) -> Any:
        result = super().handle_order_book_message(client, message, orderbook)
        if self.feed is not None:
            self.feed.on_delta(orderbook["symbol"], message.get("b", []), message.get("a", []),
                               int(message.get("E") or 0), int(message.get("u") or 0))
        return result

    def handle_trade(self, client: Any, message: dict[str, Any]) -> Any:
        result = super().handle_trade(client, message)
        if self.feed is not None and message.get("e") == "trade":
            market = self.safe_market(message.get("s"), None, None, "spot")
            self.feed.on_trade(market["symbol"], str(message["t"]), message["p"], message["q"],
                               bool(message.get("m")), int(message.get("T") or message.get("E") or 0))
        return result


def _num(value: float) -> str:
    """ccxt's float as the plain decimal string the venue sent (15 significant digits survive
    repr), without the exponent repr gives small numbers ("1e-05"), which no decimal grid reads."""
    return format(Decimal(repr(float(value))), "f")


class MarketStream:
    """Keeps the venue's book and trade subscriptions alive, reconnecting with backoff."""

    def __init__(self, exchange: Any, feed: BookFeed, symbols: list[str], tapped: bool) -> None:
        self.exchange = exchange
        self.feed = feed
        self.symbols = symbols
        self.tapped = tapped
        self.connected: dict[str, bool] = dict.fromkeys(symbols, False)
        self.reconnects = 0
        self._tasks: list[asyncio.Task[None]] = []
        if tapped:
            exchange.feed = feed

    def start(self) -> None:
        for symbol in self.symbols:
            self._tasks.append(asyncio.create_task(self._books(symbol)))
            self._tasks.append(asyncio.create_task(self._trades(symbol)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.exchange.close()

    async def _books(self, symbol: str) -> None:
        backoff = 0.2
        previous: dict[str, dict[float, float]] = {"bids": {}, "asks": {}}
        while True:
            try:
                book = await self.exchange.watch_order_book(symbol)
                self.connected[symbol] = True
                backoff = 0.2
                if not self.tapped:
                    self._diff(symbol, book, previous)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected[symbol] = False
                self.feed.mark_unsynced(symbol)
                self.reconnects += 1
                previous = {"bids": {}, "asks": {}}
                log.warning("book stream %s: %s; retrying in %.1fs", symbol, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _diff(self, symbol: str, book: Any, previous: dict[str, dict[float, float]]) -> None:
        changed: dict[str, list[list[str]]] = {"bids": [], "asks": []}
        for side in ("bids", "asks"):
            now = {float(p): float(q) for p, q, *_ in book[side]}
            before = previous[side]
            changed[side] = [[_num(p), _num(q)] for p, q in now.items() if before.get(p) != q]
            changed[side] += [[_num(p), "0"] for p in before if p not in now]
            previous[side] = now
        ts, seq = int(book.get("timestamp") or 0), int(book.get("nonce") or 0)  # OKX's nonce is its seqId
        if not self.feed.books[symbol].synced:
            self.feed.on_snapshot(symbol, changed["bids"], changed["asks"], ts, seq)
        elif changed["bids"] or changed["asks"]:
            self.feed.on_delta(symbol, changed["bids"], changed["asks"], ts, seq)

    async def _trades(self, symbol: str) -> None:
        backoff = 0.2
        while True:
            try:
                trades = await self.exchange.watch_trades(symbol)
                backoff = 0.2
                if not self.tapped:
                    for t in trades:
                        self.feed.on_trade(symbol, str(t["id"]), _num(t["price"]), _num(t["amount"]),
                                           t.get("side") == "sell", int(t.get("timestamp") or 0))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("trade stream %s: %s; retrying in %.1fs", symbol, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
