"""Unmodified ccxt okx (REST and pro WebSocket) against the simulator's OKX v5 dialect.

The venue's book only moves when these tests trade: the synthetic flow steps once a minute
(`--flow-interval-ms 60000`) with no takers, so every comparison is against a book that holds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest
from seqmesh.runtime.edge.exchange import make_exchange

from seqmesh.testing.mesh import start_sim

KEY, SECRET, PASSPHRASE = "seqmesh-demo", "seqmesh-demo-secret", "seqmesh-demo-passphrase"
OTHER = ("okx-other", "okx-other-secret", "okx-other-pass")
CALM = ("--dialect", "okx", "--flow-interval-ms", "60000", "--taker-probability", "0", "--volatility-bps", "0")


@pytest.fixture(scope="module")
def okx_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_sim(tmp_path_factory.mktemp("okx"), "okx", 5, *CALM, "--api-key", ":".join(OTHER))
    yield url
    proc.stop()


def plain_okx(url: str, key: str = KEY, secret: str = SECRET, password: str = PASSPHRASE, pro: bool = False) -> Any:
    """ccxt's okx as shipped, with only its URLs pointed at the simulator."""
    ex = (ccxt_pro if pro else ccxt_async).okx({"apiKey": key, "secret": secret, "password": password})
    ex.urls["api"]["rest"] = url
    if pro:
        ex.urls["api"]["ws"] = url.replace("http", "ws", 1) + "/ws/v5"
    return ex


@pytest.fixture
async def rest(okx_sim: str) -> AsyncIterator[Any]:
    ex = plain_okx(okx_sim)
    await ex.load_markets()
    yield ex
    await ex.close()


def free(balance: dict[str, Any], asset: str) -> Decimal:
    return Decimal(str(balance[asset]["free"]))


async def test_markets_currencies_and_book(rest: Any) -> None:
    market = rest.market("BTC/USDT")
    assert market["id"] == "BTC-USDT" and market["spot"] and market["active"]
    assert market["precision"] == {"amount": 0.00001, "price": 0.01}
    assert {"BTC", "USDT", "ETH"} <= set(rest.currencies)  # served by asset/currencies
    book = await rest.fetch_order_book("BTC/USDT", 10)
    assert 0 < len(book["bids"]) <= 10 and 0 < len(book["asks"]) <= 10
    assert book["bids"][0][0] < book["asks"][0][0], "book must not be crossed"
    assert book["bids"] == sorted(book["bids"], reverse=True) and book["asks"] == sorted(book["asks"])
    raw = await rest.public_get_market_books({"instId": "BTC-USDT", "sz": "3"})
    assert raw["code"] == "0" and all(len(level) == 4 for level in raw["data"][0]["bids"])
    assert len(raw["data"][0]["bids"]) == 3
    # A book deeper than 400 levels comes from books-full, as OKX serves it.
    full = await rest.fetch_order_book("BTC/USDT", 1000)
    assert full["bids"][:10] == (await rest.fetch_order_book("BTC/USDT", 400))["bids"][:10]


async def test_limit_gtc_rests_locks_funds_and_cancels_by_client_order_id(rest: Any) -> None:
    before = await rest.fetch_balance()
    book = await rest.fetch_order_book("BTC/USDT", 5)
    price = round(book["bids"][0][0] * 0.9, 2)  # far below the market: rests
    order = await rest.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clientOrderId": "life1"})
    assert order["clientOrderId"] == "life1" and order["id"]
    during = await rest.fetch_balance()
    assert free(before, "USDT") - free(during, "USDT") == Decimal(str(price)) * Decimal("0.01")
    fetched = await rest.fetch_order(None, "BTC/USDT", {"clientOrderId": "life1"})
    assert fetched["id"] == order["id"] and fetched["status"] == "open" and fetched["type"] == "limit"
    assert order["id"] in [o["id"] for o in await rest.fetch_open_orders("BTC/USDT")]
    # A second live order under the same clOrdId is refused as OKX refuses it (51016).
    with pytest.raises(ccxt.InvalidOrder, match="51016"):
        await rest.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clientOrderId": "life1"})
    await rest.cancel_order(None, "BTC/USDT", {"clientOrderId": "life1"})
    assert (await rest.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
    assert free(await rest.fetch_balance(), "USDT") == free(before, "USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await rest.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await rest.fetch_order(None, "BTC/USDT", {"clientOrderId": "neverplaced"})


async def test_market_order_fills_with_fees_and_trades(rest: Any) -> None:
    before = await rest.fetch_balance()
    placed = await rest.create_order("BTC/USDT", "market", "buy", 0.02, None, {"clientOrderId": "mkt1"})
    order = await rest.fetch_order(placed["id"], "BTC/USDT")
    assert order["status"] == "closed" and order["filled"] == 0.02 and order["type"] == "market"
    trades = await rest.fetch_order_trades(order["id"], "BTC/USDT")
    qty = sum(Decimal(t["info"]["fillSz"]) for t in trades)
    cost = sum(Decimal(t["info"]["fillPx"]) * Decimal(t["info"]["fillSz"]) for t in trades)
    fee = sum(-Decimal(t["info"]["fee"]) for t in trades)  # OKX: negative when charged
    assert qty == Decimal("0.02") and fee == Decimal("0.02") * Decimal("0.001")
    assert all(t["takerOrMaker"] == "taker" and t["side"] == "buy" and t["fee"]["currency"] == "BTC" for t in trades)
    assert Decimal(str(order["fee"]["cost"])) == fee
    after = await rest.fetch_balance()
    assert free(after, "BTC") - free(before, "BTC") == qty - fee
    assert free(before, "USDT") - free(after, "USDT") == cost
    mine = await rest.fetch_my_trades("BTC/USDT", None, 100)
    assert {t["id"] for t in trades} <= {t["id"] for t in mine}
    assert (await rest.fetch_trading_fee("BTC/USDT"))["taker"] == 0.001


async def test_ioc_and_fok_end_unfilled_and_fok_fills_whole(rest: Any) -> None:
    book = await rest.fetch_order_book("BTC/USDT", 5)
    far = round(book["asks"][0][0] * 0.5, 2)
    for tif in ("IOC", "FOK"):
        placed = await rest.create_order("BTC/USDT", "limit", "buy", 0.01, far, {"timeInForce": tif})
        order = await rest.fetch_order(placed["id"], "BTC/USDT")
        assert order["timeInForce"] == tif and order["status"] == "canceled" and order["filled"] == 0
        assert order["info"]["cancelSource"] == "0"  # the system ended it, not the user
    best_ask, ask_qty = book["asks"][0][:2]
    too_much = round(ask_qty + 50, 5)  # more than rests at or below the best ask: FOK kills all
    placed = await rest.create_order("BTC/USDT", "limit", "buy", too_much, best_ask, {"timeInForce": "FOK"})
    assert (await rest.fetch_order(placed["id"], "BTC/USDT"))["filled"] == 0
    placed = await rest.create_order("BTC/USDT", "limit", "buy", 0.001, best_ask, {"timeInForce": "FOK"})
    order = await rest.fetch_order(placed["id"], "BTC/USDT")
    assert order["status"] == "closed" and order["filled"] == 0.001


async def test_refusals_are_okx_codes_and_change_nothing(rest: Any, okx_sim: str) -> None:
    before = await rest.fetch_balance()
    with pytest.raises(ccxt.InsufficientFunds):
        await rest.create_order("BTC/USDT", "limit", "buy", 100, 60000)  # 6M USDT > balance
    base = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "sz": "0.01"}
    with pytest.raises(ccxt.BadRequest, match="51000"):  # off the tick grid: refused, never rounded
        await rest.private_post_trade_order({**base, "px": "60000.001"})
    with pytest.raises(ccxt.BadSymbol):
        await rest.private_post_trade_order({**base, "instId": "NOPE-USDT", "px": "1"})
    with pytest.raises(ccxt.BadRequest):
        await rest.private_post_trade_order({**base, "sz": "abc", "px": "60000"})
    with pytest.raises(ccxt.BadRequest, match="clOrdId"):  # OKX's clOrdId is letters and digits
        await rest.private_post_trade_order({**base, "px": "60000", "clOrdId": "has-dash"})
    assert free(await rest.fetch_balance(), "USDT") == free(before, "USDT")
    async with aiohttp.ClientSession() as session:
        for method, path in (("GET", "/api/v5/market/books"), ("GET", "/api/v5/market/books?instId=FOO-BAR"),
                             ("GET", "/api/v5/market/books?instId=BTC-USDT&sz=-3"), ("GET", "/api/v5/account/balance"),
                             ("POST", "/api/v5/trade/order"), ("GET", "/api/v5/nothing")):
            async with session.request(method, okx_sim + path) as resp:
                body = await resp.json()
                assert 200 <= resp.status < 500, (path, resp.status, body)
                assert body["code"] not in ("", "0") and body["msg"] and body["data"] == [], body


def okx_headers(method: str, path: str, key: str, secret: str, passphrase: str) -> dict[str, str]:
    """Signed the way OKX documents it (independent of ccxt)."""
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sign = base64.b64encode(hmac.new(secret.encode(), (stamp + method + path).encode(), hashlib.sha256).digest())
    return {"OK-ACCESS-KEY": key, "OK-ACCESS-SIGN": sign.decode(), "OK-ACCESS-TIMESTAMP": stamp,
            "OK-ACCESS-PASSPHRASE": passphrase}


async def test_signing_and_passphrase_are_checked_the_okx_way(okx_sim: str) -> None:
    path = "/api/v5/account/balance"
    async with aiohttp.ClientSession() as session:
        async with session.get(okx_sim + path, headers=okx_headers("GET", path, *OTHER)) as resp:
            assert resp.status == 200 and (await resp.json())["code"] == "0"
        refused = (((*OTHER[:2], "wrong"), "50105"), ((OTHER[0], "bad", OTHER[2]), "50113"),
                   (("nobody", *OTHER[1:]), "50111"))
        for (key, secret, passphrase), code in refused:
            async with session.get(okx_sim + path, headers=okx_headers("GET", path, key, secret, passphrase)) as resp:
                assert resp.status == 401 and (await resp.json())["code"] == code
    ex = plain_okx(okx_sim, password="wrong-passphrase")
    try:
        with pytest.raises(ccxt.AuthenticationError, match="50105"):  # its first private call: asset/currencies
            await ex.load_markets()
    finally:
        await ex.close()


async def test_rate_limit_refuses_with_50011_per_key_and_endpoint(tmp_path: Path) -> None:
    proc, url = start_sim(tmp_path, "okx", 9, *CALM, "--rate-limit", "3/60000")
    ex = plain_okx(url)
    try:
        await ex.load_markets()
        for _ in range(3):
            await ex.fetch_balance()
        with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
            await ex.fetch_balance()
        await ex.fetch_open_orders("BTC/USDT")  # another endpoint has its own allowance
        path = "/api/v5/account/balance"
        async with aiohttp.ClientSession() as session, \
                session.get(url + path, headers=okx_headers("GET", path, KEY, SECRET, PASSPHRASE)) as resp:
            assert resp.status == 429 and (await resp.json())["code"] == "50011"
    finally:
        await ex.close()
        proc.stop()


def same_levels(ws_book: Any, rest_book: Any) -> bool:
    """Price and size of every level (REST levels also carry OKX's deprecated third field)."""
    return all([lv[:2] for lv in ws_book[s]] == [lv[:2] for lv in rest_book[s]] for s in ("bids", "asks"))


async def test_watch_order_book_is_the_venue_book_and_follows_orders(okx_sim: str, rest: Any) -> None:
    pro = plain_okx(okx_sim, pro=True)
    try:
        book = await asyncio.wait_for(pro.watch_order_book("BTC/USDT"), 30)
        assert book["nonce"] > 0
        snap = await rest.fetch_order_book("BTC/USDT", 400)
        assert same_levels(book, snap)
        price = round(snap["bids"][-1][0] - 0.5, 2)  # a new level below every bid
        await rest.create_order("BTC/USDT", "limit", "buy", 0.0123, price, {"clientOrderId": "wsbook1"})
        for _ in range(20):
            book = await asyncio.wait_for(pro.watch_order_book("BTC/USDT"), 30)
            if [price, 0.0123] in [lv[:2] for lv in book["bids"]]:
                break
        else:
            raise AssertionError(f"the new level {price} never reached the WS book: {book['bids'][-3:]}")
        assert same_levels(book, await rest.fetch_order_book("BTC/USDT", 400))
        await rest.cancel_order(None, "BTC/USDT", {"clientOrderId": "wsbook1"})
    finally:
        await pro.close()


async def test_watch_trades_sees_our_market_order(okx_sim: str, rest: Any) -> None:
    pro = plain_okx(okx_sim, pro=True)
    try:
        waiting = asyncio.ensure_future(pro.watch_trades("ETH/USDT"))
        await asyncio.sleep(1.0)  # subscribed before the trade happens
        placed = await rest.create_order("ETH/USDT", "market", "sell", 0.05)
        trades = await asyncio.wait_for(waiting, 30)
        mine = {t["id"] for t in await rest.fetch_order_trades(placed["id"], "ETH/USDT")}
        assert {t["id"] for t in trades} <= mine and trades[-1]["side"] == "sell"
        assert trades[-1]["symbol"] == "ETH/USDT" and trades[-1]["price"] > 0
    finally:
        await pro.close()


def _crc(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's documented book checksum, written out here apart from the simulator's."""
    fields: list[str] = []
    for i in range(25):
        if i < len(bids):
            fields += bids[i][:2]
        if i < len(asks):
            fields += asks[i][:2]
    value = zlib.crc32(":".join(fields).encode())
    return value - 2**32 if value > 2**31 - 1 else value


async def test_books_frames_chain_by_seq_id_and_carry_the_checksum(okx_sim: str, rest: Any) -> None:
    """The raw channel: snapshot, then updates whose prevSeqId is the last seqId; the book they
    build matches each frame's checksum and, at the end, the venue's REST book."""
    sides: dict[str, dict[str, list[str]]] = {"bids": {}, "asks": {}}
    async with aiohttp.ClientSession() as session, session.ws_connect(
            okx_sim.replace("http", "ws", 1) + "/ws/v5/public") as ws:
        await ws.send_json({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]})
        ack = await ws.receive_json(timeout=30)
        assert ack["event"] == "subscribe" and ack["arg"] == {"channel": "books", "instId": "BTC-USDT"}
        last = None

        def apply(msg: dict[str, Any]) -> None:
            nonlocal last, sides
            data = msg["data"][0]
            if msg["action"] == "snapshot":
                assert last is None and data["prevSeqId"] == -1
                sides = {s: {lv[0]: lv for lv in data[s]} for s in ("bids", "asks")}
            else:
                assert data["prevSeqId"] == last, "an update must follow on from the previous frame"
                for s in ("bids", "asks"):
                    for lv in data[s]:
                        if Decimal(lv[1]) == 0:
                            sides[s].pop(lv[0], None)
                        else:
                            sides[s][lv[0]] = lv
            last = data["seqId"]
            assert data["checksum"] == _crc(*ordered())

        def ordered() -> tuple[list[list[str]], list[list[str]]]:
            return (sorted(sides["bids"].values(), key=lambda lv: -Decimal(lv[0])),
                    sorted(sides["asks"].values(), key=lambda lv: Decimal(lv[0])))

        apply(await ws.receive_json(timeout=30))
        ask = Decimal(ordered()[1][0][0])
        for i in range(3):  # each of our orders changes the book: an update follows
            price = ask + 1 + i
            await rest.private_post_trade_order({"instId": "BTC-USDT", "tdMode": "cash", "side": "sell",
                                                 "ordType": "limit", "sz": "0.001", "px": str(price)})
            while str(price) not in sides["asks"]:
                apply(await ws.receive_json(timeout=30))
        bids, asks = ordered()
    raw = (await rest.public_get_market_books({"instId": "BTC-USDT", "sz": "400"}))["data"][0]
    assert [lv for lv in bids] == raw["bids"] and [lv for lv in asks] == raw["asks"]


async def test_edge_factory_points_the_okx_class(okx_sim: str) -> None:
    ex = make_exchange("okx", sim_url=okx_sim, dialect="okx", api_key=KEY, secret=SECRET, password=PASSPHRASE)
    try:
        await ex.load_markets()
        assert ex.id == "okx" and "BTC/USDT" in ex.markets
        assert free(await ex.fetch_balance(), "USDT") > 0
    finally:
        await ex.close()
