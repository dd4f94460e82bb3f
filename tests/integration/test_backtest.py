"""A live edge against the simulator records its market data (`seqmesh edge --record`); the example
market maker is backtested on that recording twice, through the CLI, with the same result."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.edge.exchange import make_exchange
from seqmesh.runtime.edge.recording import Recording, RecordingError
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.cli import main
from seqmesh.testing import algos
from seqmesh.testing.mesh import start_edge, start_sim
from seqmesh.testing.processes import wait_until

# The book holds still (no random walk, no synthetic takers): its only trades are this test's.
CALM = ("--volatility-bps", "0", "--taker-probability", "0")


def recorded(path: Path) -> list[pb.MarketData]:
    """What the recording holds so far (the writer flushes twice a second)."""
    out: list[pb.MarketData] = []
    try:
        with Recording(path) as rec:
            out.extend(rec.items())
    except (RecordingError, FileNotFoundError):
        pass
    return out


async def trade(url: str) -> list[dict[str, Any]]:
    """Market orders of the demo account, each side; their fills as the venue reports them."""
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        for side in ("sell", "buy", "sell", "buy"):
            await ex.create_order("BTC/USDT", "market", side, 0.002)
            await asyncio.sleep(0.3)  # the makers refill between orders
        return list(await ex.fetch_my_trades("BTC/USDT"))
    finally:
        await ex.close()


def backtest(wasm: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The CLI's JSON report (in this process: the machine is shared, imports are not free)."""
    code = main(["algo", "backtest", str(wasm), "--data", str(data), "--param", "half_spread_ticks=1",
                 "skew_ticks_per_lot=0", "max_position_lots=1000", "--latency-ms", "2", "--jitter-ms", "1",
                 "--seed", "5", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_record_a_live_edge_then_backtest_the_market_maker_twice(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    mm = algos.build()["market-maker"]
    rec = tmp_path / "session.rec"
    sim, url = start_sim(tmp_path, "binance", 11, *CALM)
    try:
        edge, _ = start_edge(tmp_path, url, "binance", "--record", str(rec), symbols="BTC/USDT")
        try:
            wait_until(lambda: len(recorded(rec)) >= 10, 60, what=f"book updates in {rec}")
            mine = asyncio.run(trade(url))
            ids = {t["id"] for t in mine}
            wait_until(lambda: ids <= {i.trade.trade_id for i in recorded(rec) if i.HasField("trade")}, 60,
                       what=f"the trades {sorted(ids)} in the recording")
        finally:
            code = edge.stop(timeout=60)  # SIGTERM: the recorder writes what it holds and closes the file
            assert code == 0, "\n".join(edge.lines)
    finally:
        sim.stop()

    with Recording(rec) as r:  # closed cleanly: readable to its end
        header, items = r.header, list(r.items())
    assert header.info.venue == "binance" and header.symbols == ["BTC/USDT"]
    assert header.instrument("BTC/USDT").tick == "0.01" and header.start_ns > 0
    assert items[0].HasField("snapshot") and items[0].snapshot.bids and items[0].snapshot.asks
    assert not any(i.HasField("bbo") for i in items)
    kinds = [i.WhichOneof("item") for i in items]
    trades = {i.trade.trade_id: i.trade for i in items if i.HasField("trade")}
    assert trades.keys() == {t["id"] for t in mine}  # the calm venue's only trades: ours, every one
    for t in mine:  # as the venue reported them to us; the aggressor is our side
        got = trades[t["id"]]
        assert (float(got.price), float(got.qty)) == (t["price"], t["amount"])
        assert got.aggressor == (pb.BUY if t["side"] == "buy" else pb.SELL)
    stamps = [getattr(i, i.WhichOneof("item")).ts.edge_recv_ts for i in items]  # type: ignore[arg-type]
    assert all(s > 0 for s in stamps) and stamps == sorted(stamps)

    runs = [backtest(mm, rec, capsys) for _ in range(2)]
    assert runs[0] == runs[1]  # the same recording, module, parameters and seed
    out = json.loads(runs[0])
    assert out["recording"]["book_updates"] == kinds.count("snapshot") + kinds.count("delta")
    assert out["recording"]["trades"] == len(trades)
    assert out["algo"]["stopped"] is None and out["algo"]["calls"] > out["recording"]["book_updates"]
    # Quoting a tick either side of the mid, inside the venue's spread, it is first in line for the
    # market orders (a quote being replaced when one came, a few ms, may miss it): both sides filled.
    assert float(out["fills"]["bought"]) > 0 and float(out["fills"]["sold"]) > 0, out["fills"]
    position = sum(float(f["qty"]) * (1 if f["side"] == "buy" else -1) for f in out["fill_list"])
    assert abs(float(out["inventory"]) - position) < 1e-12
    pnl = out["pnl"]
    assert abs(float(pnl["cash"]) + float(out["inventory"]) * float(pnl["last_mid"]) - float(pnl["total"])) < 1e-6
