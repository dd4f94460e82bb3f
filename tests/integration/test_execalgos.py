"""Execution algorithms against the simulated venues: TWAP, VWAP and Iceberg worked by a CC
whose clock the test drives (a CC in this process, on a ManualClock; venues and edges real
processes), and a CC process killed mid-TWAP that resumes without sending a slice twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.cc.api.rest import order_view
from seqmesh.runtime.cc.app import CCApp
from seqmesh.runtime.cc.clock import ManualClock
from seqmesh.runtime.cc.config import CCSettings, EdgeEndpoint
from seqmesh.runtime.cc.domain import PARENT_TERMINAL, OrderType, Parent, ParentState, Side
from seqmesh.runtime.edge.exchange import make_exchange

from seqmesh.client.api import CCClient
from seqmesh.testing.books import wait_live
from seqmesh.testing.mesh import Region, cc_tls_paths
from seqmesh.testing.processes import wait_until

SYMBOL = "BTC/USDT"
FINAL = ("filled", "canceled", "expired", "rejected")


@pytest.fixture(scope="module")
def venues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    r = Region(tmp_path_factory.mktemp("venues"), start=False,
               sim_args=("--api-key", "crosser:crosser-secret", "--balance", "BTC=1000"))
    yield r
    r.stop()


async def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def cc(venues: Region, tmp_path: Path) -> AsyncIterator[tuple[CCApp, ManualClock]]:
    ca, cert, key = cc_tls_paths(venues.tmp)
    settings = CCSettings(region="local", listen_http="127.0.0.1:0", ca=ca, cert=cert, key=key,
                          edges=[EdgeEndpoint(venue=v, address=a) for v, (_, a) in venues.edges.items()],
                          db_path=tmp_path / "ledger.sqlite", durability="process-crash")
    clock = ManualClock(time.time_ns())  # from now: order ids never repeat those the edges already saw
    app = CCApp(settings, clock)
    await app.start()
    try:
        await until(lambda: all(link.connected for link in app.edges.values())
                    and len(app.marketdata.venue_books(SYMBOL, live_only=True)) == 3, 30, "three live venues")
        yield app, clock
    finally:
        await app.stop()


async def work(app: CCApp, clock: ManualClock, p: Parent, step_s: float = 1.0, real_pause_s: float = 0.0,
               max_steps: int = 200) -> None:
    """Move the CC's clock a step at a time, letting each step's slices finish at the venues."""
    for _ in range(max_steps):
        if p.state in PARENT_TERMINAL:
            return
        await clock.advance(step_s)
        run = app.scheduler.runs.get(p.order_id)
        # the step's decisions made and their slices done at the venues, before time moves on
        await until(lambda r=run: r is None or (r.idle and not r.slices) or p.state in PARENT_TERMINAL, 20,
                    "the step's slices done")
        if real_pause_s:
            await asyncio.sleep(real_pause_s)
    raise AssertionError(f"{p.order_id} still {p.state} after {max_steps} steps")


async def slices_of(app: CCApp, p: Parent) -> list[Parent]:
    out = []
    for sid in p.decision["algo"]["progress"]["slices"]:
        s = await app.cache.get(sid)
        assert s is not None
        out.append(s)
    return out


async def test_twap_slices_fall_within_their_bounds_and_complete_the_quantity(
        cc: tuple[CCApp, ManualClock]) -> None:
    app, clock = cc
    qty, n, duration, tj, sj = Decimal("0.05"), 5, 60.0, 0.4, 0.3
    p, created = await app.scheduler.submit("dev", SYMBOL, Side.BUY, qty, OrderType.TWAP, None, "twap-1",
                                            {"duration_s": duration, "slices": n, "time_jitter": tj,
                                             "size_jitter": sj})
    assert created and p.type is OrderType.TWAP
    await work(app, clock, p)
    assert p.state is ParentState.FILLED and p.filled == qty, (p.filled, p.decision["algo"])
    interval_ns = duration / n * 1e9
    started = p.decision["algo"]["progress"]["started_ns"]
    plan = [d for d in p.decision["algo"]["progress"]["plan"] if d["n"] < n]
    assert [d["n"] for d in plan] == list(range(n))
    even = qty / n
    for d in plan:
        nominal = started + d["n"] * interval_ns
        assert d["nominal_ns"] == pytest.approx(nominal)
        # sent within the time randomisation around its nominal time (+ one clock step of the test)
        assert max(started, nominal - tj / 2 * interval_ns) <= d["at_ns"] <= nominal + tj / 2 * interval_ns + 1e9
        if d["n"] < n - 1:
            assert even * Decimal(1 - sj) <= Decimal(d["planned_qty"]) <= even * Decimal(1 + sj)
    slices = await slices_of(app, p)
    assert sum((s.filled for s in slices), Decimal(0)) == qty  # the algorithm's fills are its slices'
    for s in slices:  # each slice went the way of any order: risk, SOR, children at venues
        assert s.algo_parent == p.order_id and s.type is OrderType.MARKET and s.children
        assert s.client_order_id.startswith(f"{p.order_id}.s")
    assert len({s.client_order_id for s in slices}) == len(slices)
    again, created = await app.scheduler.submit("dev", SYMBOL, Side.BUY, qty, OrderType.TWAP, None, "twap-1",
                                                {"duration_s": duration, "slices": n})
    assert again is p and not created  # idempotent on the client order id


async def test_vwap_participation_stays_near_its_target(cc: tuple[CCApp, ManualClock]) -> None:
    app, clock = cc
    rate = 0.2
    p, _ = await app.scheduler.submit("dev", SYMBOL, Side.SELL, Decimal("20"), OrderType.VWAP, None, None,
                                      {"duration_s": 40, "participation": rate, "interval_s": 1})
    await work(app, clock, p, real_pause_s=0.3)
    assert p.state is ParentState.EXPIRED  # 20 BTC is far more than a fifth of what trades meanwhile
    volume = Decimal(p.decision["algo"]["progress"]["volume"])
    assert volume > 0 and p.filled > 0
    participation = float(p.filled / volume)
    assert rate * 0.9 <= participation <= rate * 1.1, (participation, p.filled, volume)
    # Each decision re-projects the fill by the end from the volume so far (flat profile: the
    # volume seen over the share of the duration elapsed); the view shows the latest.
    progress = p.decision["algo"]["progress"]
    last = progress["plan"][-1]
    share = (last["at_ns"] - progress["started_ns"]) / 40e9
    expected = min(20.0, float(last["target_cum"]) / share)
    shown = order_view(p)["algo"]["projected_fill"]
    assert shown is not None and float(shown) == pytest.approx(expected, rel=1e-6)


async def _open_orders(url: str) -> list[dict[str, Any]]:
    ex = make_exchange("binance", sim_url=url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        return list(await ex.fetch_open_orders(SYMBOL))
    finally:
        await ex.close()


async def _sell_down_to(url: str, price: Decimal) -> None:
    """Another participant sells through every bid at or above `price` (an IOC, twice their size)."""
    ex = make_exchange("binance", sim_url=url, api_key="crosser", secret="crosser-secret")
    try:
        await ex.load_markets()
        book = await ex.fetch_order_book(SYMBOL, 100)
        qty = sum(Decimal(str(q)) for p, q in book["bids"] if Decimal(str(p)) >= price)
        size = ex.amount_to_precision(SYMBOL, float(qty * 2 + Decimal("0.01")))
        await ex.create_order(SYMBOL, "limit", "sell", size, str(price), {"timeInForce": "IOC"})
    finally:
        await ex.close()


async def test_iceberg_never_shows_more_than_its_display_on_any_venue_book(
        cc: tuple[CCApp, ManualClock], venues: Region) -> None:
    app, _ = cc
    bid = app.marketdata.best(SYMBOL)[0]
    assert bid is not None
    price = (bid * Decimal("0.995")).quantize(Decimal("0.01"))  # below the market: it rests until we sell to it
    display, qty = Decimal("0.01"), Decimal("0.04")
    p, _ = await app.scheduler.submit("dev", SYMBOL, Side.BUY, qty, OrderType.ICEBERG, price, None,
                                      {"display": str(display), "display_jitter": 0.5})
    urls = [url for _, url in venues.sims.values()]
    most = Decimal(0)
    for _ in range(40):
        run = app.scheduler.runs.get(p.order_id)
        if run is None or p.state in PARENT_TERMINAL:
            break
        await until(lambda r=run: bool(r.slices) or p.state in PARENT_TERMINAL, 20, "a slice shown")
        # What the venues' own books hold of it, once its slice rests there (the CC has it as
        # soon as it is sent; selling before the venue has it would leave it waiting for good).
        deadline = time.monotonic() + 20
        while True:
            shown = {url: [o for o in await _open_orders(url) if Decimal(str(o["price"])) == price] for url in urls}
            if any(shown.values()) or p.state in PARENT_TERMINAL or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        visible = sum((Decimal(str(o["remaining"])) for os in shown.values() for o in os), Decimal(0))
        assert visible <= display, shown
        most = max(most, visible)
        fills = len(p.fills)
        for url in (u for u, os in shown.items() if os):
            await _sell_down_to(url, price)  # another participant takes what is shown
        await until(lambda n=fills: len(p.fills) > n or p.state in PARENT_TERMINAL, 20, "a fill")
    await until(lambda: p.state in PARENT_TERMINAL, 20, "the iceberg to finish")
    assert p.state is ParentState.FILLED and p.filled == qty
    assert most > 0  # the check above saw the order on a book
    assert len(p.decision["algo"]["progress"]["slices"]) >= qty / display


async def test_cancelling_an_algorithm_cancels_its_working_slices(cc: tuple[CCApp, ManualClock],
                                                                  venues: Region) -> None:
    app, _ = cc
    bid = app.marketdata.best(SYMBOL)[0]
    assert bid is not None
    price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))  # far from the market: it rests
    p, _ = await app.scheduler.submit("dev", SYMBOL, Side.BUY, Decimal("0.02"), OrderType.ICEBERG, price, None,
                                      {"display": "0.01"})
    run = app.scheduler.runs[p.order_id]
    await until(lambda: bool(run.slices) and all(c.sent for s in run.slices.values() for c in s.children), 20,
                "the slice at a venue")
    [slice_] = run.slices.values()
    paused = await app.scheduler.pause(p)
    assert paused.state is ParentState.PAUSED
    await app.engine.cancel(p)
    try:
        await until(lambda: p.state in PARENT_TERMINAL, 20, "cancelled")
    except TimeoutError:
        raise AssertionError((p.state, run.idle, run.slices, slice_.state, slice_.cancel_requested,
                              [(c.state, c.child_id) for c in slice_.children], run.task)) from None
    assert p.state is ParentState.CANCELED and slice_.state is ParentState.CANCELED
    for url in (u for _, u in venues.sims.values()):
        assert not [o for o in await _open_orders(url) if Decimal(str(o["price"])) == price]


def test_a_cc_killed_mid_twap_resumes_and_sends_no_slice_twice(tmp_path: Path) -> None:
    region = Region(tmp_path)
    try:
        with CCClient(region.api) as c:
            wait_live(c, 3, SYMBOL)
            o = c.submit(SYMBOL, "buy", "0.08", "twap", client_order_id="twap-kill",
                         params={"duration_s": 20, "slices": 8})
            try:  # (20 s: a loaded machine's CC restart takes seconds of it)
                wait_until(lambda: len(c.order(o["order_id"])["algo"]["slices"]) >= 3, 60, what="three slices")
            except TimeoutError:
                log = (tmp_path / "cc.log").read_text(errors="replace").splitlines()[-60:]
                raise AssertionError((c.order(o["order_id"]), "\n".join(log))) from None
        region.cc.kill()  # kill -9, between or during slices
        region.restart_cc()
        with CCClient(region.api) as c:
            wait_until(lambda: c.order(o["order_id"])["state"] in FINAL, 60, what="the TWAP to finish")
            done = c.order(o["order_id"])
            assert done["state"] == "filled" and Decimal(done["filled"]) == Decimal("0.08"), done
            # the restarted CC waited for its venues' books rather than refusing the slice it resumed
            assert done["algo"]["last_refusal"] is None, done["algo"]
            decisions = [d["n"] for d in done["algo"]["plan"]]
            assert decisions == sorted(set(decisions))  # each slice decided once
            slices = [c.order(sid) for sid in done["algo"]["slices"]]
            assert len({s["client_order_id"] for s in slices}) == len(slices)
            assert sum(Decimal(s["filled"]) for s in slices) == Decimal("0.08")  # nothing bought twice
            again = c.submit(SYMBOL, "buy", "0.08", "twap", client_order_id="twap-kill",
                             params={"duration_s": 20, "slices": 8})
            assert again["order_id"] == o["order_id"]
    finally:
        region.stop()
