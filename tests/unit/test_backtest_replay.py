"""The backtest's replay (runtime/backtest): an algo's order queues behind the recorded book and
fills only once recorded trades have consumed what rested ahead of it; latency delays arrival."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import wasmtime
from seqmesh.runtime.backtest import report
from seqmesh.runtime.backtest.replay import Backtest, Result, Settings
from seqmesh.runtime.edge.recording import Header, Recording, RecordingWriter
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.testing import algos
from seqmesh.testing.guests import bidder

INFO = pb.VenueInfo(venue="binance", maker_fee="0.001", taker_fee="0.002",
                    instruments=[pb.Instrument(symbol="BTC/USDT", tick="0.01", lot="0.001", min_qty="0.001",
                                               min_notional="0")])
MS = 1_000_000
T0 = 1_000_000 * MS


def lv(price: str, qty: str) -> pb.Level:
    return pb.Level(price=price, qty=qty)


def snapshot(at: int, bids: list[pb.Level], asks: list[pb.Level]) -> pb.MarketData:
    return pb.MarketData(snapshot=pb.BookSnapshot(symbol="BTC/USDT", bids=bids, asks=asks,
                                                  ts=pb.Timestamps(edge_recv_ts=T0 + at * MS)))


def delta(at: int, bids: list[pb.Level] = (), asks: list[pb.Level] = ()) -> pb.MarketData:  # type: ignore[assignment]
    return pb.MarketData(delta=pb.BookDelta(symbol="BTC/USDT", bids=bids, asks=asks,
                                            ts=pb.Timestamps(edge_recv_ts=T0 + at * MS)))


def sell(at: int, price: str, qty: str) -> pb.MarketData:
    return pb.MarketData(trade=pb.Trade(symbol="BTC/USDT", price=price, qty=qty, aggressor=pb.SELL,
                                        ts=pb.Timestamps(edge_recv_ts=T0 + at * MS)))


def run(tmp: Path, items: list[pb.MarketData], wasm: bytes, **settings: object) -> Backtest:
    path = tmp / "r.rec"
    writer = RecordingWriter(path, Header(T0, INFO))
    for item in items:
        writer.write_item(item)
    writer.close()
    with Recording(path) as rec:
        bt = Backtest(wasm, rec, Settings(**settings))  # type: ignore[arg-type]
        bt.run()
        return bt


def backtest(tmp: Path, items: list[pb.MarketData], wasm: bytes, **settings: object) -> Result:
    return run(tmp, items, wasm, **settings).result


# Bids 1 BTC (1000 lots) at the best bid, once.
ONE_AT_BEST_BID = bidder(1000, once=True, tag=7)
BOOK = snapshot(0, [lv("100.00", "5"), lv("99.99", "3")], [lv("100.10", "4")])


def fills_after(tmp: Path, tail: list[pb.MarketData], **settings: object) -> Result:
    return backtest(tmp, [BOOK, *tail], ONE_AT_BEST_BID, **settings)


def test_an_order_fills_only_after_the_queue_ahead_traded(tmp_path: Path) -> None:
    ahead = [
        delta(5, bids=[lv("100.00", "9")]),  # 4 more join: behind the algo's bid
        delta(6, bids=[lv("100.00", "5")]),  # and leave (from the back): nothing ahead of it moved
        sell(10, "100.00", "3"),  # 3 of the 5 ahead trade
        delta(11, bids=[lv("100.00", "2")]),
        sell(20, "100.00", "2"),  # the last 2 ahead
    ]
    r = fills_after(tmp_path, ahead)
    assert [o.state for o in r.orders] == ["new"] and r.fills == []
    assert r.orders[0].decided_ns == T0 and r.orders[0].arrived_ns == T0  # no latency configured
    r = fills_after(tmp_path, [*ahead, delta(21, bids=[lv("100.00", "0")]), sell(30, "100.00", "0.4")])
    assert len(r.fills) == 1
    fill, placed, mid = r.fills[0]
    assert fill.fill.qty == Decimal("0.4") and fill.fill.price == Decimal("100.00") and fill.fill.is_maker
    assert fill.fill.fee == Decimal("0.0004")  # maker 0.001 on the bought 0.4 BTC, in BTC
    assert placed.tag == 7 and mid == Decimal("100.045")  # the recorded market's: 99.99 bid, 100.10 ask
    out = report.build(r, "r.rec")
    assert out["inventory"] == "0.4" and out["pnl"]["last_mid"] == "100.045"
    # bought 0.4 at 100 and paid 0.0004 BTC (0.04 USDT): marked at 100.045 that is 0.018 - 0.04
    assert out["pnl"]["unrealised"] == "0.018" and out["pnl"]["fees"] == "0.04" and out["pnl"]["total"] == "-0.022"
    assert Decimal(out["pnl"]["cash"]) + Decimal("0.4") * Decimal("100.045") == Decimal(out["pnl"]["total"])


@pytest.mark.parametrize("behind", ["0", "4"])  # external liquidity queued behind the algo's bid
@pytest.mark.parametrize("delta_first", [False, True])
def test_a_trade_recorded_after_its_depth_update_moves_the_queue_the_same(tmp_path: Path, behind: str,
                                                                          delta_first: bool) -> None:
    joined = Decimal(5) + Decimal(behind)
    trade, update = sell(10, "100.00", "3"), delta(10, bids=[lv("100.00", str(joined - 3))])
    tail = [delta(1, bids=[lv("100.00", str(joined))]), *([update, trade] if delta_first else [trade, update])]
    bt = run(tmp_path, [BOOK, *tail, sell(20, "100.00", "2.5")], ONE_AT_BEST_BID)  # 2 ahead, then 0.5 of the algo's
    r = bt.result
    assert [f.fill.qty for f, _, _ in r.fills] == [Decimal("0.5")]
    assert [o.state for o in r.orders] == ["partially_filled"]
    # what rests at 100.00 besides the algo's 0.5 is the recorded size after the trades, all behind it
    queue = list(bt.market.book.bids.queues[Decimal("100.00")])
    assert queue[0].account == "algo" and sum(o.remaining for o in queue[1:]) == joined - 3 - 2


def test_items_of_other_symbols_and_pools_are_not_book_updates(tmp_path: Path) -> None:
    other = [pb.MarketData(pool=pb.PoolState(symbol="BTC/USDT", pool="0xabc", kind="uniswap-v2")),
             pb.MarketData(delta=pb.BookDelta(symbol="ETH/USDT", bids=[lv("3000", "1")],
                                              ts=pb.Timestamps(edge_recv_ts=T0 + 2 * MS)))]
    r = fills_after(tmp_path, [*other, sell(10, "100.00", "6")])
    assert r.book_updates == 1 and r.items == 2 and [f.fill.qty for f, _, _ in r.fills] == [Decimal("1")]


def test_a_trade_below_the_bid_fills_it_first(tmp_path: Path) -> None:
    # A sell that traded through to 99.99 went through the algo's better bid on its way.
    r = fills_after(tmp_path, [sell(10, "99.99", "6")])
    assert [(f.fill.price, f.fill.qty) for f, _, _ in r.fills] == [(Decimal("100.00"), Decimal("1"))]
    assert r.orders[0].state == "filled"


def test_latency_delays_arrival_behind_liquidity_that_came_meanwhile(tmp_path: Path) -> None:
    tail = [delta(2, bids=[lv("100.00", "7")]), sell(10, "100.00", "5")]  # 2 join at 2 ms, 5 trade at 10 ms
    r = fills_after(tmp_path, tail)  # the bid arrived at 0 ms: second in the queue
    assert [f.fill.qty for f, _, _ in r.fills] == []
    r = fills_after(tmp_path, [*tail, sell(11, "100.00", "1")])
    assert [f.fill.qty for f, _, _ in r.fills] == [Decimal("1")]  # right after the 5 ahead
    r = fills_after(tmp_path, [*tail, sell(11, "100.00", "1")], latency_ns=5 * MS)
    assert r.orders[0].arrived_ns == T0 + 5 * MS and r.fills == []  # arrived behind the 2 more: 1 still ahead


def test_same_recording_same_seed_same_result(tmp_path: Path) -> None:
    tail = [delta(i, bids=[lv("100.00", str(5 + i % 3))]) for i in range(1, 40)] + [sell(50, "100.00", "9")]
    runs = [report.build(fills_after(tmp_path, tail, latency_ns=MS, jitter_ns=3 * MS, seed=s), "r") for s in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert runs[0]["orders"][0]["arrived_ns"] != runs[2]["orders"][0]["arrived_ns"]  # the seed draws the jitter


def test_a_trapping_algo_stops_and_the_replay_ends(tmp_path: Path) -> None:
    trap = bytes(wasmtime.wat2wasm("""(module (memory (export "memory") 1)
      (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
      (func (export "book_ptr") (result i32) (i32.const 1024))
      (func (export "actions_ptr") (result i32) (i32.const 2048))
      (func (export "on_book") (param i32) (result i32) (unreachable)))"""))
    r = backtest(tmp_path, [BOOK, delta(1, bids=[lv("100.00", "6")])], trap)
    assert r.stopped is not None and "unreachable" in r.stopped and r.book_updates == 2 and r.orders == []


def test_a_public_sdk_algo_runs_unchanged(tmp_path: Path) -> None:
    # quoter (examples/algos-public, the public sequence-algo-sdk): a bid one tick under the best
    # bid, at the venue's minimum size; a sell through both levels reaches it behind the 3 at 99.99.
    quoter = algos.build_public()["quoter"].read_bytes()
    tail = [sell(10, "99.99", "7"), sell(20, "99.99", "1.5"), delta(30, asks=[lv("100.10", "5")])]
    r = backtest(tmp_path, [BOOK, *tail], quoter, latency_ns=MS)  # the fill is reported at 21 ms
    assert [(o.type, o.side.value, o.price, o.qty) for o in r.orders] == [("limit", "BUY", Decimal("99.99"),
                                                                          Decimal("0.001"))]
    assert [(f.fill.price, f.fill.qty, f.fill.is_maker, f.fill.time_ms) for f, _, _ in r.fills] == [
        (Decimal("99.99"), Decimal("0.001"), True, (T0 + 20 * MS) // MS)]  # not at 10 ms: 3 - 2 still ahead
    assert r.stopped is None and any("fill 1 100000 @ 99990000000" in line for line in r.logs), r.logs


def test_the_guests_clock_is_the_replayed_time(tmp_path: Path) -> None:
    """`now_ns` answers the recording's time, so an algo that decides on the clock replays the same."""
    clock = bytes(wasmtime.wat2wasm("""(module
      (import "seqmesh" "now_ns" (func $now (result i64)))
      (memory (export "memory") 1)
      (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
      (func (export "book_ptr") (result i32) (i32.const 1024))
      (func (export "actions_ptr") (result i32) (i32.const 2048))
      (func (export "on_book") (param i32) (result i32)
        (i64.store (i32.const 5000) (call $now)) (i32.const 0)))"""))
    last = delta(250, bids=[lv("100.00", "6")])
    seen = set()
    for i in range(2):
        (tmp_path / str(i)).mkdir()
        seen.add(int.from_bytes(run(tmp_path / str(i), [BOOK, last], clock).instance.read(5000, 8), "little"))
    assert seen == {T0 + 250 * MS}, seen
