"""The edge's two ways of placing an order agree: the Binance-dialect fast path (ccxt's endpoint
method, the venue's decimal strings) reports every kind of order exactly as the unified ccxt
calls then read it back from the simulator, and refusals raise the same ccxt errors."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.edge.gateway import BinanceGateway, VenueGateway, VenueOrder, VenueTrade
from seqmesh.runtime.edge.ratelimit import TokenBucket

from seqmesh.testing.mesh import start_sim

KEY, SECRET = "seqmesh-demo", "seqmesh-demo-secret"


@pytest.fixture(scope="module")
def own_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A venue of its own: these orders move its balances and book."""
    proc, url = start_sim(tmp_path_factory.mktemp("gateway-sim"), "binance", 5)
    yield url
    proc.stop()


@pytest.fixture
async def gateways(own_sim: str) -> AsyncIterator[tuple[BinanceGateway, VenueGateway]]:
    fast = BinanceGateway(make_exchange("binance", sim_url=own_sim, api_key=KEY, secret=SECRET),
                          TokenBucket(1000, 100))
    unified = VenueGateway(make_exchange("binance", sim_url=own_sim, api_key=KEY, secret=SECRET),
                           TokenBucket(1000, 100))
    for g in (fast, unified):
        await g.exchange.load_markets()
    yield fast, unified
    for g in (fast, unified):
        await g.close()


async def best(g: VenueGateway, side: str) -> Decimal:
    book = await g.exchange.public_get_depth({"symbol": "BTCUSDT", "limit": 5})
    return Decimal(book["bids" if side == "buy" else "asks"][0][0])


def cid() -> str:
    return "gw-" + uuid.uuid4().hex[:16]


async def placed_and_read_back(gateways: tuple[BinanceGateway, VenueGateway], side: str, type: str, qty: str,
                               price: Decimal | None, tif: str) -> tuple[VenueOrder, VenueOrder]:
    fast, unified = gateways
    sent_ms = time.time_ns() // 1_000_000
    mine = await fast.create("BTC/USDT", side, type, Decimal(qty), price, tif, cid())
    answered_ms = -(-time.time_ns() // 1_000_000)
    # The times: the venue's (same clock), all within the request (the answer to a new order has no
    # per-fill time, so the fast path gives each fill the order's; the venue's read-back, each match's).
    back = await unified.fetch("BTC/USDT", mine.venue_order_id, "")
    trades = await unified.trades("BTC/USDT", None, mine.venue_order_id)
    for t in (*mine.trades, *trades):
        assert sent_ms <= t.ts_ms <= answered_ms, (sent_ms, t, answered_ms)
    return mine, VenueOrder(back.venue_order_id, back.client_order_id, back.symbol, back.status, back.filled,
                            tuple(sorted(trades, key=lambda t: int(t.trade_id))))


@pytest.mark.parametrize("side, type, qty, offset_bps, tif, status", [
    ("buy", "market", "0.4", None, "GTC", "closed"),             # sweeps several levels
    ("sell", "market", "0.4", None, "GTC", "closed"),
    ("buy", "limit", "0.01", Decimal(-200), "GTC", "open"),      # rests, nothing filled
    ("sell", "limit", "3", Decimal(-5), "GTC", None),            # crosses what it can, rests the rest
    ("buy", "limit", "3", Decimal(5), "IOC", None),              # takes what it can, the rest expires
    ("buy", "limit", "500", Decimal(5), "FOK", "expired"),       # cannot fill in full: nothing
])
async def test_fast_path_reports_what_the_unified_calls_read_back(
        gateways: tuple[BinanceGateway, VenueGateway], side: str, type: str, qty: str, offset_bps: Decimal | None,
        tif: str, status: str | None) -> None:
    fast, _ = gateways
    price = None
    if offset_bps is not None:  # relative to the far touch: negative rests, positive crosses
        far = await best(fast, "sell" if side == "buy" else "buy")
        sign = 1 if side == "buy" else -1
        price = (far * (1 + sign * offset_bps / 10_000)).quantize(Decimal("0.01"))
    mine, back = await placed_and_read_back(gateways, side, type, qty, price, tif)
    if status is not None:
        assert mine.status == status
    assert mine.status == back.status and mine.filled == back.filled
    assert (mine.venue_order_id, mine.client_order_id) == (back.venue_order_id, back.client_order_id)
    # Ids, prices, quantities, fees, fee asset, liquidity (the times are checked above: a loaded
    # machine may take longer than a few milliseconds between the order's time and a match's)
    def timeless(trades: tuple[VenueTrade, ...]) -> list[VenueTrade]:
        return [dataclasses.replace(t, ts_ms=0) for t in trades]

    assert timeless(mine.trades) == timeless(back.trades)
    assert sum((t.qty for t in mine.trades), Decimal(0)) == mine.filled
    if type == "market":
        assert len(mine.trades) >= 1


@pytest.mark.parametrize("qty, price, error", [
    ("0.000001", None, ccxt.InvalidOrder),                     # below the lot size
    ("10000", Decimal("30000.00"), ccxt.InsufficientFunds),    # 300 million USDT to lock
    ("0.0001", Decimal("30000.00"), ccxt.BadRequest),          # 3 USDT: below the minimum notional
])
async def test_refusals_raise_the_same_errors(gateways: tuple[BinanceGateway, VenueGateway], qty: str,
                                               price: Decimal | None, error: type[Exception]) -> None:
    kind = "market" if price is None else "limit"
    caught: list[Any] = []
    for g in gateways:
        with pytest.raises(error) as info:
            await g.create("BTC/USDT", "buy", kind, Decimal(qty), price, "GTC", cid())
        caught.append(type(info.value))
    assert caught[0] is caught[1]


async def test_an_off_grid_price_is_the_venues_to_refuse(gateways: tuple[BinanceGateway, VenueGateway]) -> None:
    """ccxt's unified call would round it to the tick; the fast path sends what it is given, and
    the venue refuses (the edge checks the grid before either)."""
    fast, _ = gateways
    with pytest.raises(ccxt.InvalidOrder):
        await fast.create("BTC/USDT", "buy", "limit", Decimal("0.01"), Decimal("30000.001"), "GTC", cid())
