"""An edge on the generic ccxt path against the simulator's OKX v5 dialect, as real processes:
every order kind, cancel, the book, restart reconciliation by clOrdId, and rate-limit refusals.

The venue's book holds still unless these tests trade (`CALM`), so what the edge reports can be
compared with what the venue says, exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import grpc
import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.edge.gateway import venue_client_id
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.testing.mesh import cc_tls_paths, start_edge, start_sim

DEMO = ("seqmesh-demo", "seqmesh-demo-secret", "seqmesh-demo-passphrase")
OTHER = ("okx-trader", "okx-trader-secret", "okx-trader-pass")
CALM = ("--flow-interval-ms", "60000", "--volatility-bps", "0", "--taker-probability", "0")


class OkxEnv:
    def __init__(self, tmp: Path, *sim_args: str) -> None:
        self.tmp = tmp
        self.sim_proc, self.sim_url = start_sim(tmp, "okx", 13, "--dialect", "okx", "--api-key", ":".join(OTHER),
                                                *CALM, *sim_args)
        try:
            self.start_edge()
        except BaseException:
            self.sim_proc.stop()
            raise

    def start_edge(self) -> None:
        self.edge_proc, self.edge_addr = start_edge(self.tmp, self.sim_url, "okx", "--sim-dialect", "okx")

    def client(self) -> EdgeClient:
        return EdgeClient(self.edge_addr, TlsFiles(*cc_tls_paths(self.tmp)))

    def venue(self, account: tuple[str, str, str] = DEMO) -> Any:
        key, secret, passphrase = account
        return make_exchange("okx", sim_url=self.sim_url, dialect="okx", api_key=key, secret=secret,
                             password=passphrase)

    def stop(self) -> None:
        for proc in (self.edge_proc, self.sim_proc):
            proc.stop()


@pytest.fixture
def env(tmp_path: Path) -> Any:
    e = OkxEnv(tmp_path)
    yield e
    e.stop()


@pytest.fixture
async def demo(env: OkxEnv) -> AsyncIterator[Any]:
    ex = env.venue()
    await ex.load_markets()
    yield ex
    await ex.close()


async def events_until(client: EdgeClient, after: int, done: Callable[[list[pb.OrderEvent]], bool],
                       timeout: float = 30) -> list[pb.OrderEvent]:
    seen: list[pb.OrderEvent] = []

    async def run() -> None:
        async for event in client.order_events(after):
            seen.append(event)
            if done(seen):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        states = [(e.client_order_id, pb.OrderState.Name(e.state), e.HasField("fill")) for e in seen]
        raise AssertionError(f"after {timeout}s, {len(seen)} events, the last: {states[-8:]}") from None
    return seen


def final(cid: str, state: int) -> Callable[[list[pb.OrderEvent]], bool]:
    return lambda seen: any(e.client_order_id == cid and e.state == state for e in seen)


def order(cid: str, side: int, kind: int, qty: str, price: str = "", tif: int = pb.GTC) -> pb.SubmitOrder:
    return pb.SubmitOrder(client_order_id=cid, symbol="BTC/USDT", side=side, type=kind, quantity=qty, price=price,
                          time_in_force=tif)


async def test_every_order_kind_and_cancel_through_the_generic_path(env: OkxEnv, demo: Any) -> None:
    book = await demo.fetch_order_book("BTC/USDT", 5)
    bid, ask = Decimal(str(book["bids"][0][0])), Decimal(str(book["asks"][0][0]))
    async with env.client() as client:
        info = await client.info()
        assert info.venue == "okx" and info.taker_fee == "0.001"  # the account's rate, from trade-fee
        # Market: the answer to a new OKX order names it only; its fills come from the venue's fills.
        ack = await client.submit(order("mkt-1", pb.BUY, pb.MARKET, "0.05"))
        assert ack.state in (pb.ACCEPTED, pb.FILLED) and ack.venue_order_id
        assert (await client.submit(order("mkt-1", pb.BUY, pb.MARKET, "0.05"))).duplicate
        events = await events_until(client, 0, final("mkt-1", pb.FILLED))
        fills = [e.fill for e in events if e.client_order_id == "mkt-1" and e.HasField("fill")]
        venue = await demo.fetch_order_trades(ack.venue_order_id, "BTC/USDT")
        assert sorted(f.fill_id for f in fills) == sorted(f"okx:BTC/USDT:{t['id']}" for t in venue)
        by_id = {t["id"]: t["info"] for t in venue}
        for f in fills:
            raw = by_id[f.fill_id.rsplit(":", 1)[1]]
            assert Decimal(f.price) == Decimal(raw["fillPx"]) and Decimal(f.qty) == Decimal(raw["fillSz"])
            assert Decimal(f.fee) == -Decimal(raw["fee"]) == Decimal(f.qty) * Decimal("0.001")
            assert f.fee_asset == "BTC" and not f.maker
        assert sum(Decimal(f.qty) for f in fills) == Decimal("0.05")
        # The edge's ids have dots and dashes; OKX's clOrdId takes letters and digits: the venue
        # holds a stand-in derived from ours, the same every time.
        at_venue = await demo.fetch_order(None, "BTC/USDT", {"clientOrderId": venue_client_id("okx", "mkt-1")})
        assert at_venue["id"] == ack.venue_order_id and at_venue["status"] == "closed"
        # Limit GTC: rests, then is cancelled; the cancel's answer is final (the edge asks what became of it).
        rest_price = str(bid - Decimal(100))
        ack = await client.submit(order("gtc.1", pb.BUY, pb.LIMIT, "0.01", rest_price))
        assert ack.state == pb.ACCEPTED
        open_ids = {o["id"] for o in await demo.fetch_open_orders("BTC/USDT")}
        assert ack.venue_order_id in open_ids
        # Balances through the edge are the venue's, the order's funds locked.
        balances = {b.asset: b for b in (await client.balances()).balances}
        venue_usdt = next(d for d in (await demo.private_get_account_balance())["data"][0]["details"]
                          if d["ccy"] == "USDT")
        assert Decimal(balances["USDT"].locked) == Decimal(venue_usdt["frozenBal"]) == Decimal(rest_price) * \
            Decimal("0.01")
        assert Decimal(balances["USDT"].free) == Decimal(venue_usdt["availBal"])
        cancelled = await client.cancel("gtc.1")
        assert cancelled.state == pb.CANCELED
        assert (await demo.fetch_order(ack.venue_order_id, "BTC/USDT"))["status"] == "canceled"
        # IOC and FOK that cannot fill end with nothing filled: OKX says canceled, the edge EXPIRED.
        far = str(ask - Decimal(500))
        for cid, tif in (("ioc-1", pb.IOC), ("fok-1", pb.FOK)):
            await client.submit(order(cid, pb.BUY, pb.LIMIT, "0.01", far, tif))
        events = await events_until(client, 0, lambda seen: all(final(c, pb.EXPIRED)(seen) for c in ("ioc-1", "fok-1")))
        assert not [e for e in events if e.client_order_id in ("ioc-1", "fok-1") and e.HasField("fill")]
        # A FOK that can fill does, whole; an IOC across the touch takes what is there.
        await client.submit(order("fok-2", pb.BUY, pb.LIMIT, "0.001", str(ask + 5), pb.FOK))
        await client.submit(order("ioc-2", pb.SELL, pb.LIMIT, "0.002", str(bid - 5), pb.IOC))
        await events_until(client, 0, lambda seen: final("fok-2", pb.FILLED)(seen) and final("ioc-2", pb.FILLED)(seen))
        for cid, qty in (("fok-2", "0.001"), ("ioc-2", "0.002")):
            status = await client.order(cid)
            assert Decimal(status.filled_qty) == Decimal(qty) and sum(Decimal(f.qty) for f in status.fills) == \
                Decimal(qty)
    assert await demo.fetch_open_orders("BTC/USDT") == []


async def test_edge_book_is_the_venue_book(env: OkxEnv) -> None:
    """The generic stream (ccxt.pro okx's books channel, diffed level by level) gives the CC the
    venue's book, exact decimals, and follows an order that changes it."""
    other = env.venue(OTHER)
    await other.load_markets()
    try:
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}

        def venue_book(raw: dict[str, Any]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
            return ({Decimal(p): Decimal(q) for p, q, *_ in raw["bids"]},
                    {Decimal(p): Decimal(q) for p, q, *_ in raw["asks"]})

        async def books() -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
            return venue_book((await other.public_get_market_books({"instId": "BTC-USDT", "sz": "400"}))["data"][0])

        placed = False
        low = Decimal(0)

        async def watch() -> None:
            nonlocal bids, asks, placed, low
            async with env.client() as client:
                async for item in client.market_data(["BTC/USDT"]):
                    kind = item.WhichOneof("item")
                    if kind == "snapshot":
                        bids = {Decimal(lv.price): Decimal(lv.qty) for lv in item.snapshot.bids}
                        asks = {Decimal(lv.price): Decimal(lv.qty) for lv in item.snapshot.asks}
                        assert item.snapshot.venue_seq > 0, "OKX's seqId reaches the CC"
                    elif kind == "delta":
                        for side, levels in ((bids, item.delta.bids), (asks, item.delta.asks)):
                            for lv in levels:
                                if Decimal(lv.qty):
                                    side[Decimal(lv.price)] = Decimal(lv.qty)
                                else:
                                    side.pop(Decimal(lv.price), None)
                    else:
                        continue
                    if not placed:
                        assert (bids, asks) == await books()
                        low = min(bids) - Decimal("0.5")  # a new level below every bid, nine lots (5 USDT at least)
                        await other.private_post_trade_order({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                                                              "ordType": "limit", "sz": "0.00009", "px": str(low)})
                        placed = True
                    elif bids.get(low) == Decimal("0.00009"):  # repr(9e-05) has an exponent: read exact
                        assert (bids, asks) == await books()
                        break

        try:
            await asyncio.wait_for(watch(), 60)
        except TimeoutError:
            raise AssertionError(f"the edge's book never showed the new level {low}: {sorted(bids)[:3]}") from None
    finally:
        await other.close()


@pytest.fixture
def slow_env(tmp_path: Path) -> Any:
    """A venue that takes 1.5 s to answer: an order is in flight long enough to crash in."""
    e = OkxEnv(tmp_path, "--latency-ms", "1500")
    yield e
    e.stop()


async def test_edge_killed_in_flight_finds_its_order_by_clordid_and_never_sends_it_twice(slow_env: OkxEnv) -> None:
    env = slow_env
    journal = env.tmp / "state" / "okx-orders.sqlite"
    request = order("inflight-1", pb.BUY, pb.LIMIT, "0.01", "50000")
    async with env.client() as client:
        pending = asyncio.create_task(client.submit(request))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # journalled (PENDING_NEW): the request goes out next
            with sqlite3.connect(journal) as db:
                if db.execute("SELECT 1 FROM orders WHERE client_order_id='inflight-1'").fetchone():
                    break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        env.edge_proc.kill()  # the venue is still answering: the edge never sees the answer
        with pytest.raises(grpc.aio.AioRpcError):
            await pending
    env.start_edge()
    async with env.client() as client:
        events = await events_until(client, 0, final("inflight-1", pb.ACCEPTED), timeout=60)
        assert [pb.OrderState.Name(e.state) for e in events] == ["PENDING_NEW", "ACCEPTED"]
        again = await client.submit(request)
        assert again.duplicate and again.venue_order_id == events[-1].venue_order_id
    venue = env.venue()
    try:
        await venue.load_markets()
        mine = [o for o in await venue.fetch_open_orders("BTC/USDT")
                if o["clientOrderId"] == venue_client_id("okx", "inflight-1")]
        assert [o["id"] for o in mine] == [events[-1].venue_order_id], "one order at the venue, found by clOrdId"
    finally:
        await venue.close()


async def test_edge_killed_after_the_ack_books_what_filled_meanwhile_once(env: OkxEnv, demo: Any) -> None:
    other = env.venue(OTHER)
    await other.load_markets()
    try:
        book = await demo.fetch_order_book("BTC/USDT", 5)
        price = str(Decimal(str(book["bids"][0][0])) + Decimal("0.01"))  # ours alone at the best bid
        async with env.client() as client:
            ack = await client.submit(order("rest-1", pb.BUY, pb.LIMIT, "0.3", price))
            assert ack.state == pb.ACCEPTED
            seen = await events_until(client, 0, final("rest-1", pb.ACCEPTED))
        env.edge_proc.kill()
        for qty in ("0.1", "0.2"):  # while the edge is dead, another trader sells into our bid
            await other.create_order("BTC/USDT", "limit", "sell", qty, price, {"timeInForce": "IOC"})
        env.start_edge()
        async with env.client() as client:
            events = await events_until(client, seen[-1].seq, final("rest-1", pb.FILLED), timeout=60)
        fills = [e.fill for e in events if e.HasField("fill")]
        theirs = await other.fetch_my_trades("BTC/USDT", None, 100)
        assert sorted(f.fill_id for f in fills) == sorted(f"okx:BTC/USDT:{t['id']}" for t in theirs)
        assert len({f.fill_id for f in fills}) == len(fills) == 2 and all(f.maker for f in fills)
        assert sum(Decimal(f.qty) for f in fills) == Decimal("0.3")
    finally:
        await other.close()


async def test_a_venue_rate_limit_refusal_rejects_the_order_with_its_reason(tmp_path: Path) -> None:
    """Two new orders a minute: the third is refused by the venue (50011), asked again after the
    edge's pauses, then REJECTED with the venue's words; the venue never had it."""
    env = OkxEnv(tmp_path, "--rate-limit", "2/60000")
    try:
        async with env.client() as client:
            acks = [await client.submit(order(f"rl-{i}", pb.BUY, pb.LIMIT, "0.01", "50000")) for i in range(3)]
            assert [a.state for a in acks] == [pb.ACCEPTED, pb.ACCEPTED, pb.REJECTED]
            assert "50011" in acks[2].reason and "rate limit" in acks[2].reason, acks[2].reason
            assert (await client.order("rl-2")).state == pb.REJECTED  # journalled with its reason
        venue = env.venue()
        try:
            await venue.load_markets()
            assert {o["id"] for o in await venue.fetch_open_orders("BTC/USDT")} == {a.venue_order_id for a in acks[:2]}
        finally:
            await venue.close()
    finally:
        env.stop()


async def test_a_venue_rate_limit_refusal_is_asked_again_and_goes_through(tmp_path: Path) -> None:
    """One new order per 1.2 s: the second, refused at first, goes through on a later attempt."""
    env = OkxEnv(tmp_path, "--rate-limit", "1/1200")
    try:
        async with env.client() as client:
            first = await client.submit(order("rr-1", pb.BUY, pb.LIMIT, "0.01", "50000"))
            began = time.monotonic()
            second = await client.submit(order("rr-2", pb.BUY, pb.LIMIT, "0.01", "50000"))
            assert first.state == second.state == pb.ACCEPTED and first.venue_order_id != second.venue_order_id
            assert time.monotonic() - began >= 0.25, "the second was refused once and asked again after a pause"
        assert any("venue rate limit" in line for line in env.edge_proc.lines)
    finally:
        env.stop()


async def test_more_fills_than_a_venue_page_while_the_edge_is_down_are_all_booked(tmp_path: Path) -> None:
    """OKX answers fills newest first, 100 a page: 120 fills of one order made while the edge was
    dead reach it page by page, each once."""
    env = OkxEnv(tmp_path, "--rate-limit", "1000/2000")
    other = env.venue(OTHER)
    try:
        await other.load_markets()
        book = await other.fetch_order_book("BTC/USDT", 5)
        price = str(Decimal(str(book["bids"][0][0])) + Decimal("0.01"))  # ours alone at the best bid
        async with env.client() as client:
            assert (await client.submit(order("many-1", pb.BUY, pb.LIMIT, "0.02", price))).state == pb.ACCEPTED
        env.edge_proc.kill()
        for _ in range(120):
            await other.private_post_trade_order({"instId": "BTC-USDT", "tdMode": "cash", "side": "sell",
                                                  "ordType": "ioc", "sz": "0.0001", "px": price})
        env.start_edge()
        async with env.client() as client:
            def all_in(seen: list[pb.OrderEvent]) -> bool:
                return sum(e.HasField("fill") for e in seen) >= 120

            events = await events_until(client, 0, all_in, timeout=60)
            status = await client.order("many-1")
        fills = [e.fill.fill_id for e in events if e.HasField("fill")]
        assert len(fills) == len(set(fills)) == 120
        assert status.state == pb.PARTIALLY_FILLED and Decimal(status.filled_qty) == Decimal("0.012")
    finally:
        await other.close()
        env.stop()


async def test_a_cancel_the_venue_refused_is_sent_again_until_it_takes(tmp_path: Path) -> None:
    """One cancel per 3 s per key: the test spends it, the edge's cancel (and its retries within
    the second and a half after) is refused, and the order stays PENDING_CANCEL; the poll sends
    the cancel again while the order rests at the venue, and it ends CANCELED, nothing open."""
    env = OkxEnv(tmp_path, "--rate-limit", "1/3000")
    venue = env.venue()
    try:
        await venue.load_markets()
        async with env.client() as client:
            ack = await client.submit(order("cx-1", pb.BUY, pb.LIMIT, "0.01", "50000"))
            assert ack.state == pb.ACCEPTED
            with contextlib.suppress(ccxt.BaseError):  # the same key's one cancel of these 3 s
                await venue.cancel_order("nope", "BTC/USDT")
            first = await client.cancel("cx-1")
            assert first.state == pb.PENDING_CANCEL, first
            wait_s = 30.0
            began = time.monotonic()
            while (await client.order("cx-1")).state != pb.CANCELED:
                assert time.monotonic() - began < wait_s, "the refused cancel was never sent again"
                await asyncio.sleep(0.2)
        assert not await venue.fetch_open_orders("BTC/USDT")
    finally:
        await venue.close()
        env.stop()
