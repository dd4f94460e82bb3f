"""How fast a backtest replays: a recording made from the simulator's own engine and seeded flow
(deltas and trades as its streams publish them, one flow step every 50 ms of recorded time), the
example market maker (seqmesh.testing.algos) on it. Figures: recorded items and book updates per
second of replay, and how many times faster than the recorded time that is.
"""

from __future__ import annotations

import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from seqmesh.runtime.backtest import report
from seqmesh.runtime.backtest.replay import Backtest, Settings
from seqmesh.runtime.edge.recording import Header, Recording, RecordingWriter
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.sim.config import FlowSettings, VenueSettings
from seqmesh.runtime.venues.sim.flow import SyntheticFlow
from seqmesh.runtime.venues.sim.instruments import CATALOGUE
from seqmesh.runtime.venues.sim.matching import Fees, LevelChange, MatchingEngine, PublicTrade

from seqmesh.testing import algos

SYMBOL = "BTC/USDT"
STEP_NS = 50_000_000


def record(path: Path, steps: int, seed: int = 3) -> None:
    inst = CATALOGUE[SYMBOL]
    now = [1_700_000_000_000_000_000]
    engine = MatchingEngine([inst], Fees(), clock_ms=lambda: now[0] // 1_000_000)
    flow = SyntheticFlow(engine, VenueSettings(symbols=[SYMBOL], seed=seed, flow=FlowSettings()))
    flow.step()
    info = pb.VenueInfo(venue="binance", maker_fee="0.001", taker_fee="0.001", instruments=[pb.Instrument(
        symbol=SYMBOL, tick=str(inst.tick), lot=str(inst.lot), min_qty=str(inst.min_qty),
        min_notional=str(inst.min_notional))])
    writer = RecordingWriter(path, Header(now[0], info))
    _, bids, asks = engine.depth(SYMBOL)

    def level(p: Decimal, q: Decimal) -> pb.Level:
        return pb.Level(price=str(p), qty=str(q))

    ts = pb.Timestamps(exchange_ts=now[0], edge_recv_ts=now[0])
    writer.write_item(pb.MarketData(snapshot=pb.BookSnapshot(symbol=SYMBOL, bids=[level(*b) for b in bids],
                                                             asks=[level(*a) for a in asks], ts=ts)))
    changes: list[LevelChange] = []
    trades: list[PublicTrade] = []
    engine.book_listeners.append(changes.append)
    engine.trade_listeners.append(trades.append)
    for _ in range(steps):
        now[0] += STEP_NS
        flow.step()
        ts = pb.Timestamps(exchange_ts=now[0], edge_recv_ts=now[0])
        for t in trades:
            writer.write_item(pb.MarketData(trade=pb.Trade(symbol=SYMBOL, trade_id=str(t.trade_id), price=str(t.price),
                                                           qty=str(t.qty), ts=ts,
                                                           aggressor=pb.SELL if t.buyer_is_maker else pb.BUY)))
        if changes:
            writer.write_item(pb.MarketData(delta=pb.BookDelta(
                symbol=SYMBOL, ts=ts, bids=[level(c.price, c.qty) for c in changes if c.side.value == "BUY"],
                asks=[level(c.price, c.qty) for c in changes if c.side.value == "SELL"])))
        changes.clear()
        trades.clear()
    writer.close()


def run(steps: int = 2000) -> dict[str, Any]:
    wasm = algos.build()["market-maker"].read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flow.rec"
        record(path, steps)
        size = path.stat().st_size
        with Recording(path) as rec:
            start = time.perf_counter()
            result = Backtest(wasm, rec, Settings(params={"half_spread_ticks": "2"}, latency_ns=2_000_000)).run()
            elapsed = time.perf_counter() - start
    out = report.build(result, "flow.rec")
    recorded_s = (result.end_ns - result.start_ns) / 1e9
    return {
        "items": result.items, "book_updates": result.book_updates, "trades": result.trades,
        "recorded_seconds": round(recorded_s, 1), "file_bytes": size,
        "replay_seconds": round(elapsed, 2), "items_per_s": round(result.items / elapsed),
        "book_updates_per_s": round(result.book_updates / elapsed), "x_recorded_time": round(recorded_s / elapsed, 1),
        "algo_orders": out["algo"]["orders"], "algo_fills": out["fills"]["count"],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
