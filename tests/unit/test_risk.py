"""Pre-trade risk on real positions built from fills: every limit by name, and what stays
possible beyond the daily loss limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from seqmesh.runtime.cc.config import RiskLimits
from seqmesh.runtime.cc.domain import Fill, Side
from seqmesh.runtime.cc.positions import Positions
from seqmesh.runtime.cc.risk import RiskDenied, RiskEngine

D = Decimal


def fill(n: int, side: Side, qty: str, price: str, fee: str = "0") -> Fill:
    return Fill(f"f{n}", "c", "p", "binance", "BTC/USDT", side, D(price), D(qty), D(fee), "USDT", False, 0, 0)


@pytest.fixture
def engine() -> tuple[RiskEngine, Positions, dict[str, Decimal]]:
    positions = Positions()
    marks = {"BTC/USDT": D(60_000)}
    limits = RiskLimits(max_position={"BTC/USDT": D(5)}, max_order_notional=D(400_000), daily_loss_limit=D(50),
                        max_orders_per_s=1000, order_burst=1000)
    return RiskEngine(limits, positions, marks.get), positions, marks


def denial(engine: RiskEngine, side: Side, qty: str, working: str = "0") -> str | None:
    try:
        engine.check("alice", "BTC/USDT", side, D(qty), D(60_000), D(working))
    except RiskDenied as d:
        return d.code
    return None


def test_each_limit_by_name(engine: tuple[RiskEngine, Positions, dict[str, Decimal]]) -> None:
    risk, positions, _ = engine
    assert denial(risk, Side.BUY, "7") == "MAX_ORDER_NOTIONAL"  # 420,000 > 400,000
    assert denial(risk, Side.BUY, "6") == "POSITION_LIMIT"  # 360,000 is within the notional limit
    positions.apply("alice", fill(1, Side.BUY, "4", "60000"))
    assert denial(risk, Side.BUY, "1.5") == "POSITION_LIMIT"
    assert denial(risk, Side.BUY, "0.5", working="0.6") == "POSITION_LIMIT"  # working orders count
    assert denial(risk, Side.BUY, "1") is None
    risk.kill_switch = True
    assert denial(risk, Side.SELL, "1") == "KILL_SWITCH"


def test_beyond_the_daily_loss_limit_only_reducing_orders_pass(
        engine: tuple[RiskEngine, Positions, dict[str, Decimal]]) -> None:
    risk, positions, marks = engine
    positions.apply("alice", fill(1, Side.BUY, "2", "60000", fee="40"))
    assert denial(risk, Side.BUY, "0.1") is None  # PnL -40: within the limit
    marks["BTC/USDT"] = D(59_990)  # -20 unrealised, -40 fees: -60 < -50
    assert positions.pnl("alice", marks.get) == D(-60)
    assert denial(risk, Side.BUY, "0.1") == "DAILY_LOSS_LIMIT"   # adds to the long
    assert denial(risk, Side.SELL, "2.5") == "DAILY_LOSS_LIMIT"  # through zero: opens a short
    assert denial(risk, Side.SELL, "1.5", working="-1") == "DAILY_LOSS_LIMIT"  # 1 already on its way out
    assert denial(risk, Side.SELL, "0.5") is None
    assert denial(risk, Side.SELL, "2") is None                  # exactly flat
    positions.apply("alice", fill(2, Side.SELL, "2", "59990"))
    assert denial(risk, Side.SELL, "0.001") == "DAILY_LOSS_LIMIT"  # flat: nothing left to reduce
    assert denial(risk, Side.BUY, "0.001") == "DAILY_LOSS_LIMIT"


def test_the_daily_loss_count_starts_again_at_the_reset_time() -> None:
    from datetime import UTC, datetime

    from seqmesh.runtime.cc.clock import ManualClock

    t0 = int(datetime(2026, 3, 1, 16, 59, tzinfo=UTC).timestamp()) * 10**9  # a minute before the reset
    clock = ManualClock(t0)
    positions, marks, saved = Positions(), {"BTC/USDT": D(60_000)}, []
    limits = RiskLimits(daily_loss_limit=D(50), daily_reset_utc="17:00", max_orders_per_s=1000, order_burst=1000)
    risk = RiskEngine(limits, positions, marks.get, clock=clock, save_day=saved.append)
    positions.apply("alice", fill(1, Side.BUY, "1", "60000", fee="100"))  # -100 today
    assert denial(risk, Side.BUY, "0.1") == "DAILY_LOSS_LIMIT"
    assert risk.pnl_today("alice") == D(-100) and len(saved) == 1  # the day that began yesterday 17:00

    clock._now = t0 + 59 * 10**9 + 999_999_999  # 16:59:59.999999999: still the same day
    assert denial(risk, Side.BUY, "0.1") == "DAILY_LOSS_LIMIT" and len(saved) == 1
    clock._now = t0 + 60 * 10**9  # 17:00:00 exactly: a new day, yesterday's loss is its base
    assert denial(risk, Side.BUY, "0.1") is None
    assert risk.pnl_today("alice") == 0 and len(saved) == 2
    assert saved[-1] == {"start_ns": t0 + 60 * 10**9, "base": {"alice": "-100"}}
    marks["BTC/USDT"] = D(59_940)  # -60 today
    assert denial(risk, Side.BUY, "0.1") == "DAILY_LOSS_LIMIT"

    restarted = RiskEngine(limits, positions, marks.get, clock=clock, day=saved[-1])  # the day survives a restart
    assert restarted.pnl_today("alice") == D(-60) and not restarted.roll_day()


def test_the_order_rate_is_limited_per_client() -> None:
    from seqmesh.runtime.cc.clock import ManualClock

    clock = ManualClock()
    limits = RiskLimits(max_orders_per_s=2, order_burst=3)
    risk = RiskEngine(limits, Positions(), {"BTC/USDT": D(60_000)}.get, clock=clock)

    def check(client: str) -> str | None:
        try:
            risk.check(client, "BTC/USDT", Side.BUY, D("0.01"), D(60_000))
        except RiskDenied as d:
            return d.code
        return None

    assert [check("alice") for _ in range(4)] == [None, None, None, "ORDER_RATE"]
    assert check("bob") is None  # alice's burst is hers alone
    clock._now += 500_000_000  # half a second: one token back at 2/s
    assert [check("alice") for _ in range(2)] == [None, "ORDER_RATE"]
    clock._now += 480_000_000  # 0.96 of a token: not enough, and the view must not round it up to one
    assert risk.view("alice")["usage"]["order_tokens_left"] == 0.9
    assert check("alice") == "ORDER_RATE"
