"""Algos built with the unmodified public `sequence-algo-sdk` 0.4 from crates.io
(`examples/algos-public`) on real edges against the simulator, beside seqmesh's own ABI."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from seqmesh.runtime.dex.v2math import get_amount_out
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.client.api import CCClient
from seqmesh.testing import algos
from seqmesh.testing.books import wait_live
from seqmesh.testing.dex import Chain, final
from seqmesh.testing.mesh import Region, cc_tls_paths, start_edge, start_sim
from seqmesh.testing.processes import wait_until

#: A market that does not move: the books the algo sees are the books the test reads.
STILL = ("--volatility-bps", "0", "--taker-probability", "0")


@pytest.fixture(scope="module")
def wasm() -> dict[str, Path]:
    return algos.build_public()


@pytest.fixture
def edge(tmp_path: Path) -> Any:
    sim, url = start_sim(tmp_path, "binance", 5, *STILL)
    proc, addr = start_edge(tmp_path, url, symbols="BTC/USDT")
    yield url, addr, tmp_path
    proc.stop()
    sim.stop()


async def until(what: str, pred: Any, client: EdgeClient | None = None, timeout: float = 45) -> None:
    """Wait for `pred`; on timeout say what the edge's algos were doing."""
    try:
        async with asyncio.timeout(timeout):
            while not await pred():  # noqa: ASYNC110 - polling another process
                await asyncio.sleep(0.1)
    except TimeoutError:
        seen = []
        for a in await client.algos() if client is not None else []:
            assert client is not None
            seen.append(f"{a.name}: {a.state} {a.reason} calls={a.calls} orders={a.orders} denied={a.denied} "
                        f"logs={(await client.algo_logs(a.name))[-5:]}")
        raise AssertionError(f"timed out waiting for {what}; seen: {seen}") from None


async def venue_orders(url: str, prefix: str) -> list[dict[str, Any]]:
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        return [o for o in await ex.fetch_orders("BTC/USDT") if o["clientOrderId"].startswith(prefix)]
    finally:
        await ex.close()


async def test_a_public_sdk_quoter_bids_under_the_best_bid_and_cancels_at_shutdown(edge: Any,
                                                                                  wasm: dict[str, Path]) -> None:
    url, addr, tmp = edge
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        market = ex.market("BTC/USDT")
        book = await ex.fetch_order_book("BTC/USDT")
    finally:
        await ex.close()
    tick = Decimal(str(market["precision"]["price"]))
    lot = Decimal(str(market["precision"]["amount"]))
    want_price = Decimal(str(book["bids"][0][0])) - tick
    # the venue's minimum at that price: its minimum quantity and its minimum notional, in whole lots
    at_least = max(Decimal(str(market["limits"]["amount"]["min"])),
                   Decimal(str(market["limits"]["cost"]["min"])) / want_price)
    want_qty = (at_least / lot).to_integral_value(ROUND_CEILING) * lot
    async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as client:
        await client.deploy_algo("q", wasm["quoter"].read_bytes(), "BTC/USDT", running=True)

        async def resting() -> bool:
            return len([o for o in await venue_orders(url, "q.") if o["status"] == "open"]) == 1

        await until("the quoter's bid at the venue", resting, client)
        status = (await client.algos("q"))[0]
        assert status.state == "Running" and status.traps == 0 and status.denied == 0, status
        [order] = await venue_orders(url, "q.")
        assert order["side"] == "buy" and order["type"] == "limit"
        assert Decimal(str(order["price"])) == want_price, (order["price"], want_price)
        assert Decimal(str(order["amount"])) == want_qty  # from AlgoState.symbol: the venue's minimums
        logs = await client.algo_logs("q")
        assert f"info: quoting at {int(want_price * 10**9)}" in logs, logs

        await client.control_algo("q", False)  # on_shutdown: the SDK's cancel_all from AlgoState's orders

        async def cancelled() -> bool:
            return all(o["status"] == "canceled" for o in await venue_orders(url, "q."))

        await until("the shutdown's cancel at the venue", cancelled, client)
        record = await client.order(order["clientOrderId"])
        assert record.state == pb.CANCELED, record
        assert (await client.algos("q"))[0].state == "Stopped"


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    # Two still venues, okx's prices 5 bps under binance's: the venues' books differ and stay put.
    r = Region(tmp_path_factory.mktemp("public"), {"binance": ("0", "0.0008", "0.001"),
                                                    "okx": ("-5", "0.0010", "0.0011")},
               cc_args=("--max-order-notional", "100000", "--max-position", "BTC/USDT=0.003"), sim_args=STILL)
    with CCClient(r.api) as c:
        wait_live(c, 2)
    yield r
    r.stop()


def wait_seen(predicate: Any, what: str, seen: Any, timeout: float = 60) -> None:
    """wait_until, saying on timeout what `seen()` shows (the algo's log lines)."""
    try:
        wait_until(predicate, timeout, what=what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; seen: {seen()}") from None


def e9(price: str) -> int:
    return int(Decimal(price) * 10**9)


def test_on_nbbo_sees_every_venues_book_and_bids_at_the_lowest(region: Region, wasm: dict[str, Path]) -> None:
    with CCClient(region.api) as c:
        bbo = {row["venue"]: row for row in c.bbo("BTC/USDT")}
        c.deploy_algo("taker", wasm["nbbo-taker"].read_bytes(), "BTC/USDT", ["binance"], {"0": "10000"}, start=True)

        def logged() -> list[str]:
            return list(c.algo_logs("taker").get("binance", []))

        wait_seen(lambda: any(line.startswith("info: bid ") for line in logged()),
                  "the taker's bid after an NBBO with two venues", logged)
        lines = logged()
        for venue, row in bbo.items():  # each venue's book as the CC has it, in the SDK's units
            assert f"info: venue {venue} bid {e9(row['bid'])} ask {e9(row['ask'])}" in lines, (venue, lines)
        lowest = min(Decimal(row["bid"]) for row in bbo.values())
        assert lowest == Decimal(bbo["okx"]["bid"]) < Decimal(bbo["binance"]["bid"])
        assert f"info: bid 10000 at {e9(str(lowest))}" in lines, lines
        state = {e["edge"]: e for e in c.algo("taker")["edges"]}["binance"]
        assert state["orders"] == 1 and state["denied"] == 0 and state["traps"] == 0, state
        orders = asyncio.run(venue_orders(region.sims["binance"][1], "taker."))
        assert [(o["side"], Decimal(str(o["price"])), Decimal(str(o["amount"])), o["status"]) for o in orders] == [
            ("buy", lowest, Decimal("0.0001"), "open")]
        c.delete_algo("taker")
        wait_until(lambda: all(o["status"] == "canceled"
                               for o in asyncio.run(venue_orders(region.sims["binance"][1], "taker."))), 30,
                   what="the removed algo's bid cancelled")


def test_messages_go_to_the_named_sibling_and_replies_come_back(region: Region, wasm: dict[str, Path]) -> None:
    with CCClient(region.api) as c:
        c.deploy_algo("chat", wasm["messenger"].read_bytes(), "BTC/USDT", ["binance", "okx"], start=True)

        def logs() -> dict[str, list[str]]:
            return {edge: list(lines) for edge, lines in c.algo_logs("chat").items()}

        def both_ways() -> bool:
            seen = logs()
            return all(any(line.startswith(f"info: from local/{other}: ping ") for line in seen.get(edge, []))
                       and any(line.startswith(f"info: from local/{other}: pong ") for line in seen.get(edge, []))
                       for edge, other in (("binance", "okx"), ("okx", "binance")))

        wait_seen(both_ways, "pings and pongs between the two instances", logs)
        states = {e["edge"]: e for e in c.algo("chat")["edges"]}
        for edge in ("binance", "okx"):
            assert states[edge]["messages"] >= 2 and states[edge]["received"] >= 2, states[edge]
            assert states[edge]["rejected_messages"] == 0 and states[edge]["traps"] == 0, states[edge]
        c.delete_algo("chat")


async def test_on_a_dex_edge_an_algo_reads_its_pool_and_swaps_at_the_pool_math(tmp_path: Path,
                                                                                wasm: dict[str, Path]) -> None:
    arb = Chain(tmp_path, "arbitrum")  # automine, no traders: the pool moves only by the algo's swap
    try:
        arb.start_edge()
        base_r, quote_r = arb.reserves("WBTC")
        wbtc, usdt = arb.d.token("WBTC").address, arb.d.token("USDT").address
        reserve0, reserve1 = (base_r, quote_r) if int(wbtc, 16) < int(usdt, 16) else (quote_r, base_r)
        want_out = get_amount_out(50_000_000, base_r, quote_r)  # 0.5 WBTC in, USDT (6 decimals) out
        async with arb.client() as client:
            await client.deploy_algo("swapper", wasm["pool-swapper"].read_bytes(), "BTC/USDT",
                                     params={"0": "50000000"}, running=True)

            async def swapped() -> bool:
                return any(cid.startswith("swapper.") for cid, _, _ in arb.swaps())

            await until("the algo's swap in the edge's journal", swapped, client)
            [(cid, _, attempts)] = arb.swaps()
            done = await final(client, cid)
            assert done.state == pb.FILLED and attempts == 1, done
            (fill,) = done.fills
            assert Decimal(fill.qty) == Decimal("0.5")
            assert Decimal(fill.price) * Decimal("0.5") == Decimal(want_out) / 10**6  # the pool math, exactly

            async def fill_seen() -> bool:
                return any(line.startswith("info: fill ") for line in await client.algo_logs("swapper"))

            await until("on_fill in the algo", fill_seen, client)
            logs = await client.algo_logs("swapper")
            seen = [line for line in logs if line.startswith("info: pool reserves ")]
            assert seen and seen[0].startswith(f"info: pool reserves {reserve0} {reserve1} fee 3000 ppm block "), logs
            assert seen[0].endswith(" venue dex-arb v3 false"), seen
            assert f"info: fill 1 50000000 @ {int(Decimal(fill.price) * 10**9)}" in logs, logs
            status = (await client.algos("swapper"))[0]
            assert status.fills == 1 and status.orders == 1 and status.position == "-0.5", status
    finally:
        arb.stop()


# A public-ABI guest in WAT: at its first book, one post-only buy of 0.0001 at the best ask (it would
# take, so the venue refuses it); logs "rejected" from on_reject.
CROSSING_POST_ONLY = """(module
  (import "env" "host_log_impl" (func $log (param i32 i32 i32)))
  (memory (export "memory") 18)
  (global $done (mut i32) (i32.const 0))
  (data (i32.const 0x30000) "rejected")
  (func (export "algo_alloc") (param i32) (result i32) (i32.const 0x31000))
  (func (export "algo_on_book_v3") (param $book i32) (param $state i32) (result i32)
    (if (i32.or (global.get $done) (i64.eqz (i64.load offset=320 (local.get $book)))) (then (return (i32.const 0))))
    (global.set $done (i32.const 1))
    (i32.store (i32.const 0x32000) (i32.const 1))
    (i64.store (i32.const 0x32008) (i64.const 77))
    (i64.store (i32.const 0x32010) (i64.load offset=320 (local.get $book)))
    (i64.store (i32.const 0x32018) (i64.const 10000))
    (i32.store8 (i32.const 0x32020) (i32.const 1))
    (i32.store8 (i32.const 0x32022) (i32.const 4))
    (i32.const 0x32000))
  (func (export "algo_on_reject") (param i32) (call $log (i32.const 2) (i32.const 0x30000) (i32.const 8))))"""


async def test_a_post_only_that_would_take_is_refused_by_the_venue_and_the_guest_hears_of_it(edge: Any) -> None:
    _, addr, tmp = edge
    async with EdgeClient(addr, TlsFiles(*cc_tls_paths(tmp))) as client:
        await client.deploy_algo("pox", bytes(wasmtime.wat2wasm(CROSSING_POST_ONLY)), "BTC/USDT", running=True)

        async def heard() -> bool:
            return "info: rejected" in await client.algo_logs("pox")

        await until("on_reject after the venue refused the post-only", heard, client)
        logs = await client.algo_logs("pox")
        [venue_says] = [line for line in logs if line.startswith("warn: order tag 77 ")]
        assert "match" in venue_says.lower(), venue_says  # the venue's LIMIT_MAKER refusal, not a limit of ours
        status = (await client.algos("pox"))[0]
        assert (status.orders, status.denied, status.fills, status.traps) == (1, 0, 0, 0), status
