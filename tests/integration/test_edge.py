"""The edge against the simulator, as real processes: book fidelity, orders, crash recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.edge.journal import SEQ_GAP
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.common.certs_cli import dev_pki
from seqmesh.testing.mesh import cc_tls_paths, start_edge, start_sim

OTHER_KEY, OTHER_SECRET = "other-trader", "other-secret"


class Env:
    def __init__(self, tmp: Path, *sim_args: str, edge_args: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.sim_proc, self.sim_url = start_sim(tmp, "binance", 11, "--api-key", f"{OTHER_KEY}:{OTHER_SECRET}",
                                                *sim_args)
        try:
            self.edge_proc, self.edge_addr = start_edge(tmp, self.sim_url, "binance", *edge_args)
        except BaseException:
            self.sim_proc.stop()  # an edge that would not start must not leave its venue running
            raise

    def restart_edge(self, *edge_args: str) -> None:
        self.edge_proc, self.edge_addr = start_edge(self.tmp, self.sim_url, "binance", *edge_args)

    def client(self) -> EdgeClient:
        return EdgeClient(self.edge_addr, TlsFiles(*cc_tls_paths(self.tmp)))

    def stop(self) -> None:
        for proc in (self.edge_proc, self.sim_proc):
            proc.stop()


@pytest.fixture
def env(tmp_path: Path) -> Any:
    e = Env(tmp_path)
    yield e
    e.stop()


@pytest.fixture
async def demo(env: Env) -> AsyncIterator[Any]:
    ex = make_exchange("binance", sim_url=env.sim_url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    await ex.load_markets()
    yield ex
    await ex.close()


class Book:
    """The CC's view: snapshot then contiguous deltas, exact decimals."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.seq = 0
        self.venue_seq = 0
        self.deltas = 0

    def apply(self, item: pb.MarketData) -> None:
        kind = item.WhichOneof("item")
        if kind == "snapshot":
            s = item.snapshot
            self.bids = {Decimal(lv.price): Decimal(lv.qty) for lv in s.bids}
            self.asks = {Decimal(lv.price): Decimal(lv.qty) for lv in s.asks}
            self.seq, self.venue_seq = s.book_seq, s.venue_seq
        elif kind == "delta":
            d = item.delta
            assert d.book_seq == self.seq + 1, f"gap: {self.seq} -> {d.book_seq}"
            for side, levels in ((self.bids, d.bids), (self.asks, d.asks)):
                for lv in levels:
                    price, qty = Decimal(lv.price), Decimal(lv.qty)
                    if qty:
                        side[price] = qty
                    else:
                        side.pop(price, None)
                    self.deltas += 1
            self.seq, self.venue_seq = d.book_seq, d.venue_seq

    def top(self, n: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        return sorted(self.bids.items(), reverse=True)[:n], sorted(self.asks.items())[:n]


async def test_edge_book_equals_venue_book_after_thousands_of_updates(env: Env, demo: Any) -> None:
    book = Book()
    compared = 0
    async with env.client() as client:
        stream = client.market_data(["BTC/USDT"])
        async for item in stream:
            assert item.venue == "binance"
            if item.WhichOneof("item") in ("snapshot", "delta"):
                book.apply(item)
                ts = getattr(item, item.WhichOneof("item")).ts
                assert ts.exchange_ts > 0 and ts.edge_recv_ts >= ts.exchange_ts - 5_000_000_000
                assert ts.cc_proc_ts == 0
            if book.deltas >= 3000 and item.WhichOneof("item") == "delta":
                raw = await demo.public_get_depth({"symbol": "BTCUSDT", "limit": 1000})
                if raw["lastUpdateId"] == book.venue_seq:
                    bids = [(Decimal(p), Decimal(q)) for p, q in raw["bids"]]
                    asks = [(Decimal(p), Decimal(q)) for p, q in raw["asks"]]
                    assert book.top(len(bids)) == (bids, asks)
                    compared += 1
                    if compared >= 3:
                        break
            if book.deltas > 60_000:
                break
    assert compared >= 3, f"could not catch the venue at a matching update id ({book.deltas} deltas)"


async def test_info_and_mtls_identity(env: Env) -> None:
    async with env.client() as client:
        info = await client.info()
        assert info.venue == "binance" and info.taker_fee == "0.001"
        assert {i.symbol for i in info.instruments} == {"BTC/USDT", "ETH/USDT"}
    # A certificate from the right CA but the wrong role is refused.
    paths = dev_pki(env.tmp / "pki", "local", [("edge", "intruder")])
    intruder = TlsFiles(paths["ca"][0], *paths["local-edge-intruder"])
    async with EdgeClient(env.edge_addr, intruder) as bad:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await bad.info()
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def collect_events(client: EdgeClient, after: int, until: Any, timeout: float = 20) -> list[pb.OrderEvent]:
    events: list[pb.OrderEvent] = []

    async def run() -> None:
        async for event in client.order_events(after):
            events.append(event)
            if until(events):
                return

    await asyncio.wait_for(run(), timeout)
    return events


async def test_market_order_through_edge_fills_with_price_qty_fee(env: Env, demo: Any) -> None:
    async with env.client() as client:
        req = pb.SubmitOrder(client_order_id="mkt-1", symbol="BTC/USDT", side=pb.BUY, type=pb.MARKET,
                             quantity="0.05")
        ack = await client.submit(req)
        assert ack.state == pb.FILLED and ack.venue_order_id and not ack.duplicate
        again = await client.submit(req)
        assert again.duplicate and again.venue_order_id == ack.venue_order_id
        events = await collect_events(client, 0, lambda ev: ev[-1].state == pb.FILLED and ev[-1].HasField("fill"))
        fills = [e.fill for e in events if e.HasField("fill")]
        venue_trades = await demo.fetch_my_trades("BTC/USDT", None, 1000, {"orderId": ack.venue_order_id})
        assert sorted(f.fill_id for f in fills) == sorted(f"binance:BTC/USDT:{t['id']}" for t in venue_trades)
        by_id = {t["id"]: t["info"] for t in venue_trades}
        for f in fills:
            venue = by_id[f.fill_id.rsplit(":", 1)[1]]
            assert Decimal(f.price) == Decimal(venue["price"]) and Decimal(f.qty) == Decimal(venue["qty"])
            assert Decimal(f.fee) == Decimal(venue["commission"]) == Decimal(f.qty) * Decimal("0.001")
            assert f.fee_asset == "BTC" and not f.maker
        assert sum(Decimal(f.qty) for f in fills) == Decimal("0.05")
        first = events[0].seq  # a journal's first run starts past one gap too
        assert [e.seq for e in events] == list(range(first, first + len(events))) and first == SEQ_GAP + 1
        # The ack carried the same events, seqs included, as the stream once they were committed.
        assert [e.SerializeToString() for e in ack.events] == [e.SerializeToString() for e in events]
        status = await client.order("mkt-1")
        assert status.state == pb.FILLED and Decimal(status.filled_qty) == Decimal("0.05")


async def test_submits_on_one_stream_are_matched_by_id_and_survive_an_edge_restart(env: Env) -> None:
    """The CC's hot path: many submits on one SubmitStream, acks as each completes; a restarted
    edge breaks the stream (ConnectionError to what waited) and the next submit opens a new one."""
    def order(cid: str, qty: str = "0.01") -> pb.SubmitOrder:
        return pb.SubmitOrder(client_order_id=cid, symbol="BTC/USDT", side=pb.BUY, type=pb.MARKET, quantity=qty)

    async with env.client() as client:
        acks = await asyncio.gather(*(client.submit_streamed(order(f"s-{i}")) for i in range(8)),
                                    client.submit_streamed(pb.SubmitOrder(client_order_id="s-bad", symbol="BTC/USDT",
                                                                          side=pb.BUY, type=pb.MARKET, quantity="0")))
        assert [a.client_order_id for a in acks] == [f"s-{i}" for i in range(8)] + ["s-bad"]
        assert all(a.state == pb.FILLED for a in acks[:8]) and acks[8].state == pb.REJECTED
        assert (await client.submit_streamed(order("s-0"))).duplicate  # idempotent on the id, as Submit
    env.edge_proc.kill()
    port = env.edge_addr.rpartition(":")[2]
    env.edge_proc, env.edge_addr = start_edge(env.tmp, env.sim_url, "binance", "--listen", f"127.0.0.1:{port}")
    async with env.client() as client:
        first = await client.submit_streamed(order("s-9"))
        assert first.state == pb.FILLED
        # A restarted edge holds only its live orders; final ones are read from its journal.
        again = await client.submit_streamed(order("s-3"))
        assert again.duplicate and again.state == pb.FILLED and again.venue_order_id == acks[3].venue_order_id
        status = await client.order("s-3")
        assert status.state == pb.FILLED and sum(Decimal(f.qty) for f in status.fills) == Decimal("0.01")
    async with EdgeClient(env.edge_addr, TlsFiles(*cc_tls_paths(env.tmp))) as client:
        await client.submit_streamed(order("s-10"))
        env.edge_proc.kill()  # the stream breaks under the next submit
        with pytest.raises(ConnectionError):
            await client.submit_streamed(order("s-11"), timeout=10)


async def test_rejections_through_the_edge(env: Env) -> None:
    async with env.client() as client:
        bad_tick = await client.submit(pb.SubmitOrder(client_order_id="rej-1", symbol="BTC/USDT", side=pb.BUY,
                                                      type=pb.LIMIT, quantity="0.01", price="60000.001"))
        assert bad_tick.state == pb.REJECTED and "tick" in bad_tick.reason
        unknown = await client.submit(pb.SubmitOrder(client_order_id="rej-2", symbol="DOGE/USDT", side=pb.BUY,
                                                     type=pb.MARKET, quantity="1"))
        assert unknown.state == pb.REJECTED and "unknown symbol" in unknown.reason
        broke = await client.submit(pb.SubmitOrder(client_order_id="rej-3", symbol="BTC/USDT", side=pb.BUY,
                                                   type=pb.LIMIT, quantity="500", price="60000"))
        assert broke.state == pb.REJECTED and "insufficient balance" in broke.reason.lower()


@pytest.fixture
def calm_env(tmp_path: Path) -> Any:
    """A venue whose mid stands still and with no random takers: only our counterparty trades."""
    e = Env(tmp_path, "--volatility-bps", "0", "--taker-probability", "0")
    yield e
    e.stop()


async def test_kill_9_edge_loses_and_duplicates_no_fill(calm_env: Env) -> None:
    env = calm_env
    other = make_exchange("binance", sim_url=env.sim_url, api_key=OTHER_KEY, secret=OTHER_SECRET)
    await other.load_markets()
    try:
        async with env.client() as client:
            book = await other.fetch_order_book("BTC/USDT", 5)
            # One tick above the best bid: ours is the only bid at or above this price.
            price = str(Decimal(str(book["bids"][0][0])) + Decimal("0.01"))
            ack = await client.submit(pb.SubmitOrder(client_order_id="rest-1", symbol="BTC/USDT", side=pb.BUY,
                                                     type=pb.LIMIT, quantity="0.3", price=price))
            assert ack.state == pb.ACCEPTED
            seen = await collect_events(client, 0, lambda ev: ev[-1].state == pb.ACCEPTED)
        last_seq = seen[-1].seq
        env.edge_proc.kill()  # kill -9: no clean-up
        # While the edge is dead, another trader sweeps down through our bid in two sells.
        for qty in ("0.1", "0.2"):
            await other.create_order("BTC/USDT", "limit", "sell", qty, price, {"timeInForce": "IOC"})
        env.restart_edge()
        async with env.client() as client:
            events = await collect_events(client, last_seq, lambda ev: ev[-1].state == pb.FILLED)
            # And a second reconnect from the same cursor replays exactly the same events.
            replay = await collect_events(client, last_seq, lambda ev: len(ev) == len(events))
        assert [e.SerializeToString() for e in replay] == [e.SerializeToString() for e in events]
        fills = [e.fill for e in events if e.HasField("fill")]
        venue = await other.fetch_my_trades("BTC/USDT", None, 1000)
        # Every trade the counterparty made was against us, and we booked each exactly once.
        assert sorted(f.fill_id for f in fills) == sorted(f"binance:BTC/USDT:{t['id']}" for t in venue)
        assert len({f.fill_id for f in fills}) == len(fills) == 2
        assert sum(Decimal(f.qty) for f in fills) == Decimal("0.3")
        assert all(f.maker for f in fills)
        # After the restart the seqs go on past one gap: none a dead process may have handed out.
        start = last_seq + SEQ_GAP + 1
        assert [e.seq for e in events] == list(range(start, start + len(events)))
    finally:
        await other.close()


@pytest.fixture
def slow_env(tmp_path: Path) -> Any:
    """A venue that takes 1.5 s to answer anything: orders are in flight long enough to crash in."""
    e = Env(tmp_path, "--latency-ms", "1500", "--volatility-bps", "0", "--taker-probability", "0")
    yield e
    e.stop()


async def test_edge_killed_while_an_order_is_in_flight_reconciles_it(slow_env: Env) -> None:
    import sqlite3
    import time

    env = slow_env
    journal = env.tmp / "state" / "binance-orders.sqlite"
    async with env.client() as client:
        pending = asyncio.create_task(client.submit(pb.SubmitOrder(
            client_order_id="inflight-1", symbol="BTC/USDT", side=pb.BUY, type=pb.LIMIT, quantity="0.01",
            price="50000")))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # journalled (PENDING_NEW) means the request goes out next
            with sqlite3.connect(journal) as db:
                if db.execute("SELECT 1 FROM orders WHERE client_order_id='inflight-1'").fetchone():
                    break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        env.edge_proc.kill()  # the venue is still "thinking": the edge never sees its answer
        with pytest.raises(grpc.aio.AioRpcError):
            await pending
    env.restart_edge()
    async with env.client() as client:
        events = await collect_events(client, 0, lambda ev: ev[-1].state == pb.ACCEPTED, timeout=30)
        assert [pb.OrderState.Name(e.state) for e in events] == ["PENDING_NEW", "ACCEPTED"]
        assert events[-1].venue_order_id, "reconciliation found the venue's order by its client id"
        status = await client.order("inflight-1")
        assert status.state == pb.ACCEPTED
        again = await client.submit(pb.SubmitOrder(client_order_id="inflight-1", symbol="BTC/USDT", side=pb.BUY,
                                                   type=pb.LIMIT, quantity="0.01", price="50000"))
        assert again.duplicate and again.venue_order_id == events[-1].venue_order_id


async def test_edge_killed_before_the_answer_is_committed_asks_the_venue_again(tmp_path: Path) -> None:
    """The ack goes out before the venue's answer is committed. An edge killed in between (here
    the window is held open for 10 s) finds the written-ahead order at restart, asks the venue,
    and records the same fills under new seqs, none of them a seq the ack carried."""
    env = Env(tmp_path, "--volatility-bps", "0", "--taker-probability", "0", edge_args=("--commit-delay-ms", "10000"))
    try:
        async with env.client() as client:
            ack = await client.submit(pb.SubmitOrder(client_order_id="uncommitted-1", symbol="BTC/USDT", side=pb.BUY,
                                                     type=pb.MARKET, quantity="0.05"))
            assert ack.state == pb.FILLED and any(e.HasField("fill") for e in ack.events)
            # Only the written-ahead order is on disk, so that is all the event stream serves.
            served = await collect_events(client, 0, lambda ev: len(ev) == 1)
            with pytest.raises(TimeoutError):
                await collect_events(client, served[-1].seq, lambda ev: True, timeout=1)
        assert [e.state for e in served] == [pb.PENDING_NEW] and served[0].seq == ack.events[0].seq
        env.edge_proc.kill()
        env.restart_edge()
        async with env.client() as client:
            events = await collect_events(client, 0, lambda ev: ev[-1].state == pb.FILLED)
            status = await client.order("uncommitted-1")
        assert events[0].SerializeToString() == served[0].SerializeToString()
        again = events[1:]
        assert min(e.seq for e in again) > max(e.seq for e in ack.events)
        fills = sorted(e.fill.fill_id for e in again if e.HasField("fill"))
        assert fills == sorted(e.fill.fill_id for e in ack.events if e.HasField("fill"))
        assert status.state == pb.FILLED and Decimal(status.filled_qty) == Decimal("0.05")
        assert sorted(f.fill_id for f in status.fills) == fills
    finally:
        env.stop()


async def test_a_submit_whose_caller_goes_away_is_still_recorded_with_its_venue_order(slow_env: Env) -> None:
    """The CC that sent a submit dies while the venue is answering (its call is cancelled): the
    edge still records the venue's answer, and every event of the order names the venue order
    (a CC booking those fills must know which venue order they came from)."""
    import sqlite3
    import time

    env = slow_env
    journal = env.tmp / "state" / "binance-orders.sqlite"
    async with env.client() as client:
        pending = asyncio.create_task(client.submit(pb.SubmitOrder(
            client_order_id="gone-1", symbol="BTC/USDT", side=pb.BUY, type=pb.MARKET, quantity="0.01")))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # journalled (PENDING_NEW): the request goes out next
            with sqlite3.connect(journal) as db:
                if db.execute("SELECT 1 FROM orders WHERE client_order_id='gone-1'").fetchone():
                    break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        pending.cancel()  # the caller goes away while the venue (1.5 s to answer) has the order
        with pytest.raises(asyncio.CancelledError):
            await pending
    async with env.client() as client:
        events = await collect_events(client, 0, lambda ev: ev[-1].state == pb.FILLED, timeout=30)
        mine = [e for e in events if e.client_order_id == "gone-1"]
        assert [pb.OrderState.Name(e.state) for e in mine][-1] == "FILLED"
        status = await client.order("gone-1")
    ex = make_exchange("binance", sim_url=env.sim_url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        at_venue = await ex.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "gone-1"})
    finally:
        await ex.close()
    assert status.venue_order_id == str(at_venue["id"]) and status.state == pb.FILLED
    fills = [e for e in mine if e.HasField("fill")]
    assert fills and all(e.venue_order_id == status.venue_order_id for e in fills), [
        (e.seq, e.venue_order_id, e.fill.fill_id) for e in fills]
