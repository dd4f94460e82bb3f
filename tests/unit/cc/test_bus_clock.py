"""The CC's bus delivers by type and survives a failing handler; the manual clock wakes sleepers
in deadline order and only when told."""

from __future__ import annotations

import asyncio

from seqmesh.runtime.cc.bus import BookChanged, Bus, TradePrinted
from seqmesh.runtime.cc.clock import ManualClock


def test_subscribers_get_their_topic_only_and_a_failing_one_does_not_stop_the_others() -> None:
    bus = Bus()
    got: list[str] = []

    def boom(ev: BookChanged) -> None:
        raise RuntimeError("consumer bug")

    bus.subscribe(BookChanged, boom)
    unsubscribe = bus.subscribe(BookChanged, lambda ev: got.append(ev.symbol))
    assert not bus.has_subscribers(TradePrinted)
    bus.publish(BookChanged("BTC/USDT"))
    assert got == ["BTC/USDT"]
    unsubscribe()
    bus.publish(BookChanged("ETH/USDT"))
    assert got == ["BTC/USDT"]


async def test_manual_clock_wakes_each_sleeper_at_its_deadline() -> None:
    clock = ManualClock()
    t0 = clock.now_ns()
    woke: list[tuple[str, int]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.now_ns() - t0))

    tasks = [asyncio.create_task(sleeper("b", 2.0)), asyncio.create_task(sleeper("a", 1.0))]
    await asyncio.sleep(0)
    assert clock.sleepers == 2
    await clock.advance(0.5)
    assert woke == []
    await clock.advance(2.0)
    assert woke == [("a", 1_000_000_000), ("b", 2_000_000_000)]
    assert clock.now_ns() - t0 == 2_500_000_000
    await asyncio.gather(*tasks)
