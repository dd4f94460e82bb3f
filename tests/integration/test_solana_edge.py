"""An edge for the Solana RFQ venue, as real processes over gRPC with mTLS.

Fills are read back from the chain and must equal what the settlement moved; a blockhash that
expires before its transaction lands gets one new quote and the order settles once; an edge
killed -9 after recording a signed transaction resolves it by the signature's status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from seqmesh.runtime.launcher.ready import free_port
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from spl.token.instructions import get_associated_token_address

from seqmesh.client.api import UP_KEY_FILE, CCClient
from seqmesh.testing.mesh import cc_tls_paths, start_cc
from seqmesh.testing.processes import Proc, wait_until
from seqmesh.testing.solana import start_solana, start_solana_edge

PROCESSED, CONFIRMED = Commitment.PROCESSED, Commitment.CONFIRMED


class Env:
    def __init__(self, tmp: Path, *venue_args: str, edge_args: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.venue, self.url, self.keypair = start_solana(tmp, *venue_args)
        self.edge: Proc | None = None
        try:
            self.start_edge(*edge_args)
        except BaseException:
            self.venue.stop()
            raise
        self.taker = Keypair.from_json(self.keypair.read_text())
        self.rpc = AsyncClient(self.url)
        markets = httpx.get(f"{self.url}/rfq/markets", trust_env=False).json()["markets"]
        self.mints = {m["base"]: m["baseMint"] for m in markets} | {m["quote"]: m["quoteMint"] for m in markets}

    def start_edge(self, *edge_args: str) -> None:
        self.edge, self.addr = start_solana_edge(self.tmp, self.url, self.keypair, *edge_args)

    def client(self) -> EdgeClient:
        return EdgeClient(self.addr, TlsFiles(*cc_tls_paths(self.tmp)))

    async def tokens(self, token: str) -> Decimal:
        account = get_associated_token_address(self.taker.pubkey(), Pubkey.from_string(self.mints[token]))
        return Decimal((await self.rpc.get_token_account_balance(account, PROCESSED)).value.ui_amount_string)

    def settlements(self, cid: str) -> list[tuple[str, str]]:
        """(signature, outcome) of the order's signed transactions, from the edge's record."""
        with sqlite3.connect(self.tmp / "state" / "solana-settlements.sqlite") as db:
            return list(db.execute("SELECT signature, outcome FROM settlements WHERE client_order_id = ?"
                                   " ORDER BY rowid", (cid,)))

    async def close(self) -> None:
        await self.rpc.close()
        if self.edge is not None:
            self.edge.stop()
        self.venue.stop()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    e = Env(tmp_path)
    yield e
    await e.close()


async def collect(client: EdgeClient, until: Callable[[list[pb.OrderEvent]], bool],
                  timeout: float = 60) -> list[pb.OrderEvent]:
    events: list[pb.OrderEvent] = []

    async def run() -> None:
        async for event in client.order_events(0):
            events.append(event)
            if until(events):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        seen = [(e.client_order_id, pb.OrderState.Name(e.state)) for e in events]
        raise TimeoutError(f"no final state in {timeout}s; events seen: {seen}") from None
    return events


def order(cid: str, symbol: str, side: int, qty: str, price: str = "") -> pb.SubmitOrder:
    return pb.SubmitOrder(client_order_id=cid, symbol=symbol, side=side, type=pb.LIMIT if price else pb.MARKET,
                          quantity=qty, price=price)


async def test_info_market_data_and_balances(env: Env) -> None:
    async with env.client() as client:
        info = await client.info()
        assert info.venue == "solana" and info.kind == "rfq" and info.connected
        assert {i.symbol: i.lot for i in info.instruments} == {"BTC/USDT": "0.0001", "ETH/USDT": "0.0001"}
        async with httpx.AsyncClient(base_url=env.url, trust_env=False) as http:
            levels = (await http.get("/rfq/levels", params={"symbol": "BTC/USDT"})).json()
        seen: dict[str, Any] = {}
        async for item in client.market_data(["BTC/USDT"]):
            seen[item.WhichOneof("item")] = getattr(item, item.WhichOneof("item"))
            if {"snapshot", "bbo"} <= seen.keys():
                break
        snap, bbo = seen["snapshot"], seen["bbo"]
        for side in ("bids", "asks"):
            assert [(Decimal(lv.price), Decimal(lv.qty)) for lv in getattr(snap, side)] == \
                [(Decimal(p), Decimal(q)) for p, q in levels[side]]
        assert (Decimal(bbo.bid_price), Decimal(bbo.ask_price)) == (Decimal(levels["bids"][0][0]),
                                                                     Decimal(levels["asks"][0][0]))
        assert snap.venue_seq == levels["version"]
        balances = {b.asset: Decimal(b.free) for b in (await client.balances()).balances}
        assert balances == {"BTC": Decimal(10), "ETH": Decimal(100), "USDT": Decimal(1_000_000), "SOL": Decimal(10)}


async def test_orders_fill_with_what_the_chain_settled(env: Env) -> None:
    async with env.client() as client:
        btc, usdt = await env.tokens("BTC"), await env.tokens("USDT")
        ack = await client.submit(order("buy-1", "BTC/USDT", pb.BUY, "0.25"))
        assert ack.state == pb.FILLED, ack.reason
        sig = ack.venue_order_id
        fills = [e.fill for e in ack.events if e.HasField("fill")]
        assert len(fills) == 1 and fills[0].fill_id == f"solana:BTC/USDT:{sig}"
        fill = fills[0]
        # The fill is what the transaction moved, as the chain recorded it.
        landed = (await env.rpc.get_transaction(Signature.from_string(sig), "base64", CONFIRMED, 0)).value
        assert landed is not None and landed.transaction.meta is not None
        meta = landed.transaction.meta
        assert Decimal(fill.qty) == Decimal("0.25") == await env.tokens("BTC") - btc
        assert Decimal(fill.price) * Decimal(fill.qty) == usdt - await env.tokens("USDT")
        assert Decimal(fill.fee) == Decimal(meta.fee) / 10**9 and fill.fee_asset == "SOL" and not fill.maker
        assert env.settlements("buy-1") == [(sig, "landed")]
        again = await client.submit(order("buy-1", "BTC/USDT", pb.BUY, "0.25"))
        assert again.duplicate and again.venue_order_id == sig
        # A sell, and limits: one the maker does not meet (no transaction at all), one it does.
        eth = await env.tokens("ETH")
        sell = await client.submit(order("sell-1", "ETH/USDT", pb.SELL, "1.5"))
        assert sell.state == pb.FILLED and await env.tokens("ETH") == eth - Decimal("1.5")
        bid = Decimal(next(e for e in sell.events if e.HasField("fill")).fill.price)
        too_low = await client.submit(order("lim-1", "ETH/USDT", pb.BUY, "1", str(bid)))
        assert too_low.state == pb.EXPIRED and env.settlements("lim-1") == []
        ok = await client.submit(order("lim-2", "ETH/USDT", pb.BUY, "1", str(bid + 100)))
        assert ok.state == pb.FILLED
        status = await client.order("buy-1")
        assert status.state == pb.FILLED and [f.fill_id for f in status.fills] == [fill.fill_id]
        # The maker will not quote more than its levels: the order is refused with its reason.
        huge = await client.submit(order("huge-1", "BTC/USDT", pb.BUY, "1000"))
        assert huge.state == pb.REJECTED and "more than the maker quotes" in huge.reason


async def test_a_blockhash_that_expires_unlanded_is_quoted_again_and_settles_once(tmp_path: Path) -> None:
    env = Env(tmp_path, "--drop-transactions", "1")  # the first transaction sent is lost, resends too
    try:
        btc = await env.tokens("BTC")
        async with env.client() as client:
            ack = await client.submit(order("requote-1", "BTC/USDT", pb.BUY, "0.1"), timeout=60)
        assert ack.state == pb.FILLED, ack.reason
        (lost, lost_outcome), (landed, outcome) = env.settlements("requote-1")
        assert (lost_outcome, outcome) == ("expired", "landed") and ack.venue_order_id == landed
        assert (await env.rpc.get_signature_statuses([Signature.from_string(lost)], True)).value[0] is None
        assert await env.tokens("BTC") - btc == Decimal("0.1")  # one settlement, not two
        assert [e.fill.fill_id for e in ack.events if e.HasField("fill")] == [f"solana:BTC/USDT:{landed}"]
    finally:
        await env.close()


#: the venue takes 2.5 s to process a sent transaction, and a quote lives 100 blocks (5 s): it lands
SLOW_SEND = ("--send-latency-ms", "2500", "--max-age", "100", "--quote-ttl", "100")


async def _kill_after_recording(env: Env, cid: str) -> str:
    """Submit, and kill -9 the edge once the signed transaction is on disk (the venue is slow to
    take it, so it is on its way); returns its signature."""
    async with env.client() as client:
        pending = asyncio.create_task(client.submit(order(cid, "BTC/USDT", pb.BUY, "0.2"), timeout=60))
        deadline = time.monotonic() + 30
        while not env.settlements(cid):
            assert time.monotonic() < deadline, "the edge never recorded a signed transaction"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # sent by now, and not yet processed (the venue holds it 2.5 s)
        assert env.edge is not None
        env.edge.kill()
        with pytest.raises(Exception):  # noqa: B017 - the call dies with the edge, however grpc words it
            await pending
    (signature, outcome), = env.settlements(cid)
    assert outcome == "pending"
    return signature


async def test_kill_9_after_recording_resolves_by_the_signature(tmp_path: Path) -> None:
    env = Env(tmp_path, *SLOW_SEND)
    try:
        btc = await env.tokens("BTC")
        signature = await _kill_after_recording(env, "crash-1")
        env.start_edge()
        async with env.client() as client:
            events = await collect(client, lambda ev: ev[-1].state in (pb.FILLED, pb.EXPIRED, pb.REJECTED))
            status = await client.order("crash-1")
            again = await client.submit(order("crash-1", "BTC/USDT", pb.BUY, "0.2"))
        assert status.state == pb.FILLED, status.reason
        fills = [e.fill.fill_id for e in events if e.HasField("fill")]
        assert fills == [f"solana:BTC/USDT:{signature}"] and [f.fill_id for f in status.fills] == fills
        assert env.settlements("crash-1") == [(signature, "landed")]
        assert await env.tokens("BTC") - btc == Decimal("0.2")
        assert again.duplicate and again.state == pb.FILLED
    finally:
        await env.close()


async def test_kill_9_after_recording_a_transaction_that_never_lands_expires_it(tmp_path: Path) -> None:
    """The restarted edge does not quote again for an order whose fate it learnt only by waiting:
    the transaction's blockhash expired unlanded, so nothing settled and the order expires."""
    env = Env(tmp_path, *SLOW_SEND, "--drop-transactions", "1")
    try:
        btc, usdt = await env.tokens("BTC"), await env.tokens("USDT")
        signature = await _kill_after_recording(env, "crash-2")
        env.start_edge()
        async with env.client() as client:
            events = await collect(client, lambda ev: ev[-1].state in (pb.FILLED, pb.EXPIRED, pb.REJECTED))
        assert events[-1].state == pb.EXPIRED and not any(e.HasField("fill") for e in events)
        assert env.settlements("crash-2") == [(signature, "expired")]
        assert (await env.tokens("BTC"), await env.tokens("USDT")) == (btc, usdt)
    finally:
        await env.close()


async def test_a_cc_quotes_solana_in_its_nbbo_and_routes_an_order_to_it(env: Env) -> None:
    cc, api = start_cc(env.tmp, {"solana": env.addr})
    try:
        with CCClient(api) as c:
            box: dict[str, Any] = {}

            def quoted() -> bool:
                box["nbbo"] = c.request("GET", "/v1/nbbo/BTC/USDT")
                return bool(box["nbbo"].get("bid")) and bool(box["nbbo"].get("ask"))

            await asyncio.to_thread(wait_until, quoted, 30, 0.1, "the CC's NBBO to quote solana")
            nbbo = box["nbbo"]
            assert nbbo["bid"]["venue"] == nbbo["ask"]["venue"] == "solana"
            btc = await env.tokens("BTC")
            placed = c.submit("BTC/USDT", "buy", "0.01")

            def final() -> bool:
                box["order"] = c.order(placed["order_id"])
                return box["order"]["state"] in ("filled", "rejected", "expired", "canceled")

            await asyncio.to_thread(wait_until, final, 60, 0.1, "the CC's order to end")
        o = box["order"]
        assert o["state"] == "filled", o
        (fill,) = o["fills"]
        assert fill["venue"] == "solana" and fill["fee_asset"] == "SOL"
        assert fill["fill_id"] == f"solana:BTC/USDT:{o['children'][0]['venue_order_id']}"
        assert Decimal(fill["price"]) == Decimal(nbbo["ask"]["price"])  # the still maker's best ask
        assert await env.tokens("BTC") - btc == Decimal("0.01")
    finally:
        cc.stop()


def test_seqmesh_up_runs_the_solana_venue_and_its_edge(tmp_path: Path) -> None:
    log, port = tmp_path / "up.out", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "seqmesh", "up", "--regions", "na", "--venues", "solana",
                             "--print-every", "0", "--api-port", str(port), "--work-dir", str(tmp_path / "up")],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or "seqmesh up:" in log.read_text(), 90, what="seqmesh up")
        assert proc.poll() is None, log.read_text()
        assert "solana       SVM + RPC http://127.0.0.1:" in log.read_text()
        with CCClient(f"http://127.0.0.1:{port}", (tmp_path / "up" / UP_KEY_FILE).read_text().strip()) as c:
            wait_until(lambda: (c.request("GET", "/v1/nbbo/BTC/USDT").get("bid") or {}).get("venue") == "solana",
                       30, what="the NA CC's NBBO to quote solana")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()
