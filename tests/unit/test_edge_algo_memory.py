"""What the edge's algo manager remembers of algos does not grow with their history: final orders
only within the order manager's own window (late fills inside it still reach the instance, with
their tag), nothing of a removed instance (it and its wasmtime store are collected).

An edge runs in this process (its order manager, journal, feeds and algo manager, all real)
against the session's simulator process, so its internals can be inspected. Its orders rest far
from the market and are all cancelled by the end.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seqmesh.runtime.edge import oms as oms_module
from seqmesh.runtime.edge.app import EdgeApp
from seqmesh.runtime.edge.config import EdgeSettings
from seqmesh.runtime.edge.gateway import VenueTrade
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.common.certs_cli import dev_pki
from seqmesh.testing.guests import rester

WINDOW = 8  # the order manager's window of final orders, small so that a test goes past it

RESTER = rester(100, 10)  # cancels and replaces a limit buy far below the market on every book


@pytest.fixture
async def edge(sim: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[EdgeApp]:
    monkeypatch.setattr(oms_module, "RECENT_FINAL", WINDOW)
    paths = dev_pki(tmp_path / "pki", "local", [("edge", "binance")])
    cert, key = paths["local-edge-binance"]
    app = EdgeApp(EdgeSettings(venue="binance", sim_url=sim, symbols=["BTC/USDT"], api_key="seqmesh-demo",
                               secret="seqmesh-demo-secret", ca=paths["ca"][0], cert=cert, key=key,
                               state_dir=tmp_path / "state", rate_limit_per_s=200, rate_limit_burst=200))
    await app.start()
    yield app
    await app.stop()


async def deploy(app: EdgeApp, name: str, wasm: bytes = RESTER) -> None:
    await app.algos.deploy(pb.AlgoDeploy(name=name, wasm=wasm, symbol="BTC/USDT", running=True,
                                         limits=pb.AlgoLimits(max_orders_per_s=100)))


async def until(pred: Any, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not pred():  # noqa: ASYNC110 - waiting on the venue's flow and the edge's tasks
            await asyncio.sleep(0.02)


async def settled(app: EdgeApp, name: str) -> None:
    """Stop the algo and wait until every order it placed is final at the edge."""
    algo = app.algos.algos[name]
    algo.running = False
    await until(lambda: not algo.tasks)
    for cid in list(algo.working):
        await app.oms.cancel(cid)
    await until(lambda: not algo.working and not any(c.startswith(f"{name}.") for c in app.oms.live))


async def test_final_orders_are_remembered_only_within_the_order_managers_window(edge: EdgeApp) -> None:
    await deploy(edge, "rest")
    algo = edge.algos.algos["rest"]
    await until(lambda: algo.instance.stats.orders >= 4 * WINDOW)
    await settled(edge, "rest")
    assert algo.instance.stats.orders >= 4 * WINDOW and algo.instance.stats.denied == 0
    assert edge.algos.finished.capacity == WINDOW and len(edge.algos.finished) == WINDOW
    # What the manager still knows is exactly what the order manager still books trades for.
    assert {o.state for o in edge.oms.recent._items.values()} == {pb.CANCELED}
    mine = {o.client_order_id for o in edge.oms.by_venue_id.values()}
    assert set(edge.oms.recent._items) == mine
    assert set(edge.algos.finished._items) == mine
    # an order's lock lives only while a command on it runs (one may still be finishing)
    await until(lambda: not edge.oms._locks)

    # A late trade report of a cancelled order (the venue's trade feed lagging its order report),
    # booked as the trade poll books one: the instance hears of it with the order's tag.
    cid = next(iter(edge.algos.finished._items))
    order = edge.oms.order(cid)
    assert order is not None and order.state == pb.CANCELED and order.filled == 0
    tag = edge.algos.finished._items[cid].tag
    algo.running = True
    fills = algo.instance.stats.fills
    assert edge.oms.apply_trade(order, VenueTrade("late-1", order.venue_order_id, "BTC/USDT", Decimal("58000"),
                                                  Decimal("0.0004"), Decimal(0), "USDT", False, 0))
    assert order.state == pb.CANCELED and algo.instance.stats.fills == fills + 1
    assert algo.position == 40  # lots, bought
    assert f"fill: tag {tag} buy 0.0004 @ 58000" in algo.instance.stats.logs[-1]


async def test_a_removed_or_replaced_instance_is_collected_with_its_store(edge: EdgeApp) -> None:
    await deploy(edge, "gone")
    first = edge.algos.algos["gone"]
    stats, tasks = first.instance.stats, first.tasks
    await until(lambda: stats.orders >= 3)
    refs = [weakref.ref(first), weakref.ref(first.instance), weakref.ref(first.instance.store)]
    await deploy(edge, "gone")  # a new binary replaces the instance; its orders are cancelled
    second = edge.algos.algos["gone"]
    assert second is not first and second.serial != first.serial
    await until(lambda: not tasks)
    stats, tasks = second.instance.stats, second.tasks
    await until(lambda: stats.orders >= 3)
    refs += [weakref.ref(second), weakref.ref(second.instance), weakref.ref(second.instance.store)]
    edge.algos.remove("gone")
    del first, second
    await until(lambda: not tasks)
    await until(lambda: not any(c.startswith("gone.") for c in edge.oms.live))
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    # Late events of their orders reach no instance now, not even a new one of that name (the CC
    # still gets every fill from the order manager); the window holds two small integers for each.
    await deploy(edge, "gone")
    left = [cid for cid in edge.algos.finished._items if cid.startswith("gone.")]
    assert left and all(edge.algos._placed_by(cid) is None for cid in left)
