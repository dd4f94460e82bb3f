"""Unmodified ccxt (REST and pro WebSocket) against the simulator, for every call the edge uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import pytest
from seqmesh.runtime.edge.exchange import make_exchange

KEY, SECRET = "seqmesh-demo", "seqmesh-demo-secret"


@pytest.fixture
async def rest(sim: str) -> AsyncIterator[Any]:
    ex = make_exchange("binance", sim_url=sim, api_key=KEY, secret=SECRET)
    await ex.load_markets()
    yield ex
    await ex.close()


def free(balance: dict[str, Any], asset: str) -> Decimal:
    return Decimal(str(balance[asset]["free"]))


async def test_markets_and_book(rest: Any) -> None:
    market = rest.market("BTC/USDT")
    assert market["spot"] and market["precision"]["price"] == 0.01 and market["limits"]["cost"]["min"] == 5
    book = await rest.fetch_order_book("BTC/USDT", 10)
    assert 0 < len(book["bids"]) <= 10 and book["nonce"] > 0
    assert book["bids"][0][0] < book["asks"][0][0], "book must not be crossed"
    assert book["bids"] == sorted(book["bids"], reverse=True) and book["asks"] == sorted(book["asks"])


async def test_limit_order_lifecycle_locks_and_releases_funds(rest: Any) -> None:
    before = await rest.fetch_balance()
    book = await rest.fetch_order_book("BTC/USDT", 5)
    price = round(book["bids"][0][0] * 0.9, 2)  # far below the market: rests
    order = await rest.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"newClientOrderId": "life-1"})
    assert order["status"] == "open" and order["clientOrderId"] == "life-1"
    during = await rest.fetch_balance()
    locked = Decimal(str(price)) * Decimal("0.01")
    assert free(before, "USDT") - free(during, "USDT") == locked
    assert Decimal(str(during["USDT"]["used"])) >= locked
    assert (await rest.fetch_order(order["id"], "BTC/USDT"))["status"] == "open"
    assert order["id"] in [o["id"] for o in await rest.fetch_open_orders("BTC/USDT")]
    cancelled = await rest.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    after = await rest.fetch_balance()
    assert free(after, "USDT") == free(before, "USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await rest.cancel_order(order["id"], "BTC/USDT")


async def test_market_order_fills_with_fee_and_trades(rest: Any) -> None:
    before = await rest.fetch_balance()
    order = await rest.create_order("BTC/USDT", "market", "buy", 0.02)
    assert order["status"] == "closed" and order["filled"] == 0.02
    fills = order["trades"]
    qty = sum(Decimal(f["info"]["qty"]) for f in fills)
    cost = sum(Decimal(f["info"]["price"]) * Decimal(f["info"]["qty"]) for f in fills)
    fee = sum(Decimal(f["info"]["commission"]) for f in fills)
    assert qty == Decimal("0.02") and fee == (Decimal("0.02") * Decimal("0.001"))
    after = await rest.fetch_balance()
    assert free(after, "BTC") - free(before, "BTC") == qty - fee
    assert free(before, "USDT") - free(after, "USDT") == cost
    mine = await rest.fetch_my_trades("BTC/USDT", None, 1000, {"orderId": order["id"]})
    assert {t["id"] for t in mine} == {f["id"] for f in fills}
    assert all(t["takerOrMaker"] == "taker" and t["side"] == "buy" for t in mine)


async def test_ioc_limit_expires_unfilled_remainder(rest: Any) -> None:
    book = await rest.fetch_order_book("BTC/USDT", 5)
    far = round(book["asks"][0][0] * 0.5, 2)
    order = await rest.create_order("BTC/USDT", "limit", "buy", 0.01, far, {"timeInForce": "IOC"})
    assert order["status"] == "expired" and order["filled"] == 0


async def test_rejections_change_nothing(rest: Any) -> None:
    before = await rest.fetch_balance()
    with pytest.raises(ccxt.InsufficientFunds):
        await rest.create_order("BTC/USDT", "limit", "buy", 100, 60000)  # 6M USDT > balance
    with pytest.raises(ccxt.InvalidOrder):  # off the tick grid: the venue refuses (ccxt would round)
        await rest.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
                                       "price": "60000.001", "timeInForce": "GTC"})
    with pytest.raises(ccxt.BadSymbol):
        await rest.private_post_order({"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})
    with pytest.raises(ccxt.BadRequest):
        await rest.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "abc",
                                       "price": "60000", "timeInForce": "GTC"})
    assert free(await rest.fetch_balance(), "USDT") == free(before, "USDT")


async def test_bad_requests_get_dialect_errors_never_500(sim: str) -> None:
    cases = [
        ("GET", "/api/v3/depth", {}),
        ("GET", "/api/v3/depth?symbol=FOO", {}),
        ("GET", "/api/v3/depth?symbol=BTCUSDT&limit=-3", {}),
        ("GET", "/api/v3/account", {}),
        ("GET", "/api/v3/account?timestamp=1&signature=00", {"X-MBX-APIKEY": KEY}),
        ("POST", "/api/v3/order", {"X-MBX-APIKEY": "nobody"}),
        ("GET", "/api/v3/nothing", {}),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, headers in cases:
            async with session.request(method, sim + path, headers=headers) as resp:
                body = await resp.json()
                assert 400 <= resp.status < 500, (path, resp.status, body)
                assert isinstance(body["code"], int) and body["code"] < 0 and body["msg"], body


async def test_bad_signature_is_refused(sim: str) -> None:
    ex = make_exchange("binance", sim_url=sim, api_key=KEY, secret="wrong-secret")
    try:
        await ex.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance()
    finally:
        await ex.close()


async def test_watch_order_book_matches_the_venue_book(sim: str, rest: Any) -> None:
    """ccxt.pro's diff-depth book equals the venue's own book at the same update id."""
    pro = make_exchange("binance", sim_url=sim, pro=True)
    try:
        matched = 0
        for _ in range(40):
            book = await pro.watch_order_book("BTC/USDT")
            nonce = book["nonce"]
            snap = await rest.fetch_order_book("BTC/USDT", 1000)
            if snap["nonce"] == nonce:  # the venue did not move between the two reads
                assert book["bids"][:200] == snap["bids"][:200]
                assert book["asks"][:200] == snap["asks"][:200]
                matched += 1
        assert matched >= 3, "never caught the book between two updates"
    finally:
        await pro.close()


async def test_watch_trades(sim: str) -> None:
    pro = make_exchange("binance", sim_url=sim, pro=True)
    try:
        trades = await asyncio.wait_for(pro.watch_trades("BTC/USDT"), 20)
        assert trades and trades[-1]["symbol"] == "BTC/USDT" and trades[-1]["side"] in ("buy", "sell")
        assert trades[-1]["price"] > 0 and trades[-1]["amount"] > 0
    finally:
        await pro.close()
