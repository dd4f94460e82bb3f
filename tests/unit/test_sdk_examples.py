"""The Rust SDK's example algos (examples/algos), built to wasm and run in the real wasmtime host."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import Instance

from seqmesh.testing import algos

Book = list[tuple[int, int]]

#: Two venues' BTC/USDT: tick, lot, min qty, min notional. The second quotes in steps ten times coarser.
CENTS = (Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"))
DIMES = (Decimal("0.1"), Decimal("0.0001"), Decimal("0.0001"), Decimal("5"))
E9 = 1_000_000_000


@pytest.fixture(scope="module")
def wasm() -> dict[str, Path]:
    return algos.build()


def book(bids: Book, asks: Book) -> bytes:
    return abi.encode_book(0, time.time_ns(), bids, asks)


def started(tmp_path: Path, path: Path, messages: list[tuple[str, bytes]] | None = None,
            venue: tuple[Decimal, ...] | None = CENTS, params: dict[str, str] | None = None) -> Instance:
    """An instance after on_start (no parameters: the algo's defaults) on `venue`'s instrument (None: none)."""

    def send(label: str, payload: bytes) -> int:
        if messages is not None:
            messages.append((label, payload))
        return abi.OK

    rt = Runtime(tmp_path)
    instrument = abi.encode_instrument(*venue) if venue else bytes(abi.INSTRUMENT.size)
    inst = Instance(rt.compile(path.read_bytes()), path.stem, send=send, instrument=instrument)
    assert inst.start(params or {}) == []
    assert inst.stopped is None
    return inst


def min_lots(venue: tuple[Decimal, ...], price_ticks: int) -> int:
    """The smallest order the venue accepts at that price, in lots: min qty and min notional."""
    tick, lot, min_qty, min_notional = venue
    return max(1, math.ceil(min_qty / lot), math.ceil(min_notional / (price_ticks * tick * lot)))


def test_examples_export_the_whole_abi_and_import_only_seqmesh(wasm: dict[str, Path], tmp_path: Path) -> None:
    assert set(wasm) == {"market-maker", "arb-mesh", "misbehaving"}
    rt = Runtime(tmp_path)
    for name, path in wasm.items():
        module = rt.compile(path.read_bytes()).module
        assert {i.module for i in module.imports} == {"seqmesh"}
        imports = {i.name for i in module.imports}
        assert imports <= {"log", "now_ns", "send", "set_timer", "instrument"}
        if name != "misbehaving":
            assert "instrument" in imports, name
        exports = {e.name for e in module.exports}
        assert {*abi.REQUIRED_EXPORTS, *abi.OPTIONAL_EXPORTS, "event_ptr"} <= exports


def test_market_maker_quotes_around_mid_and_follows_it(wasm: dict[str, Path], tmp_path: Path) -> None:
    inst = started(tmp_path, wasm["market-maker"])
    assert any("market-maker" in line for line in inst.stats.logs)
    tick, lot, _, min_notional = CENTS

    mid = 6_500_002
    first = book([(6_500_000, 3), (6_499_999, 4)], [(6_500_004, 2)])
    # Default size: the smallest above the venue's min notional at the mid (8 lots of 0.00001 at 65 000.02) ...
    size = math.ceil(min_notional / (mid * tick * lot))
    assert size == 8
    assert size * lot * mid * tick >= min_notional > (size - 1) * lot * mid * tick
    # ... which the bid, the lower price, reaches as well: neither quote is too small for the venue.
    assert size * lot * (mid - 5) * tick >= min_notional
    actions = inst.on_book(first)
    assert len(actions) == 2
    bid, ask = sorted(actions, key=lambda a: a.side)
    assert bid == abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_LIMIT, bid.tag, mid - 5, size)
    assert ask == abi.Action(abi.KIND_PLACE, abi.SIDE_SELL, abi.TYPE_LIMIT, ask.tag, mid + 5, size)
    assert bid.tag != ask.tag

    assert inst.on_book(first) == []  # nothing moved: the quotes stay

    actions = inst.on_book(book([(6_500_010, 3)], [(6_500_014, 2)]))  # mid + 10
    size = min_lots(CENTS, mid + 10 - 5)
    assert size == 8
    cancels = {a.tag for a in actions if a.kind == abi.KIND_CANCEL}
    places = {(a.side, a.price_ticks, a.qty_lots): a.tag for a in actions if a.kind == abi.KIND_PLACE}
    assert cancels == {bid.tag, ask.tag} and len(actions) == 4
    assert set(places) == {(abi.SIDE_BUY, 6_500_007, size), (abi.SIDE_SELL, 6_500_017, size)}
    assert not set(places.values()) & {bid.tag, ask.tag}  # fresh tags
    assert len(set(places.values())) == 2
    assert inst.stopped is None and inst.stats.traps == 0


def test_market_maker_raises_an_explicit_size_to_the_venue_minimum(wasm: dict[str, Path], tmp_path: Path) -> None:
    quotes = book([(6_500_000, 3)], [(6_500_004, 2)])  # mid 6_500_002: bid 6_499_997, ask 6_500_007
    minimum = min_lots(CENTS, 6_499_997)
    for size_lots, want in (("3", minimum), ("20", 20)):
        inst = started(tmp_path, wasm["market-maker"], params={"size_lots": size_lots, "max_position_lots": "100"})
        assert {a.qty_lots for a in inst.on_book(quotes)} == {want}, size_lots

    # Bigger than max_position_lots (default 10): no quotes at all, and the log says why.
    inst = started(tmp_path, wasm["market-maker"], params={"size_lots": "20"})
    assert inst.on_book(quotes) == []
    assert any("over max_position_lots" in line for line in inst.stats.logs), inst.stats.logs

    # A host without an instrument (all zeros): the minimum is one lot.
    inst = started(tmp_path, wasm["market-maker"], venue=None)
    assert {a.qty_lots for a in inst.on_book(quotes)} == {1}
    assert inst.stopped is None


def test_arb_mesh_shares_its_top_of_book_and_does_not_trade_alone(wasm: dict[str, Path], tmp_path: Path) -> None:
    sent: list[tuple[str, bytes]] = []
    inst = started(tmp_path, wasm["arb-mesh"], sent)

    plain = book([(6_500_000, 3)], [(6_500_004, 2)])
    assert inst.on_book(plain) == []
    assert inst.stats.messages == 1
    # Venue-neutral: price and quantity x 10^9 (65 000.00, 0.00003; 65 000.04, 0.00002).
    assert [(label, struct.unpack("<4q", payload)) for label, payload in sent] == [
        ("quote", (65_000 * E9, 30_000, 65_000_040_000_000, 20_000))]

    assert inst.on_book(plain) == []  # same top of book: nothing new to say
    assert inst.stats.messages == 1
    assert inst.on_book(book([(6_500_001, 1)], [(6_500_004, 2)])) == []
    assert inst.stats.messages == 2
    assert inst.stopped is None

    # Without an instrument its ticks mean nothing to a sibling: it says nothing.
    quiet = started(tmp_path, wasm["arb-mesh"], sent, venue=None)
    assert quiet.on_book(plain) == [] and quiet.stats.messages == 0
    assert any("no instrument" in line for line in quiet.stats.logs)


def test_arb_mesh_compares_prices_across_venues_with_different_ticks(wasm: dict[str, Path], tmp_path: Path) -> None:
    """The cheap venue (tick 0.01) buys and the rich one (tick 0.1) sells, each at its own touch: with the
    sibling's raw ticks compared to its own, the cheap venue's instance would have sold instead."""
    sent_a: list[tuple[str, bytes]] = []
    sent_b: list[tuple[str, bytes]] = []
    params = {"cooldown_ms": "0"}
    cheap = started(tmp_path / "a", wasm["arb-mesh"], sent_a, CENTS, params)
    rich = started(tmp_path / "b", wasm["arb-mesh"], sent_b, DIMES, params)

    def deliver(sent: list[tuple[str, bytes]], sender: str, to: Instance) -> list[abi.Action]:
        actions: list[abi.Action] = []
        for label, payload in sent:
            actions += to.on_event("on_message", abi.encode_message(sender, label, payload))
        sent.clear()
        return actions

    # 64 989.00 / 64 990.00 (0.005 BTC each side) against 65 010.0 / 65 011.0 (0.005 BTC each side).
    book_a = book([(6_498_900, 500)], [(6_499_000, 500)])
    book_b = book([(650_100, 50)], [(650_110, 50)])
    assert cheap.on_book(book_a) == [] and rich.on_book(book_b) == []  # alone: nothing to compare with
    assert len(sent_a) == len(sent_b) == 1

    max_lots = 5  # the default
    # The rich venue sells at its bid: 5 lots of 0.0001 (its own max; its minimum is 1 lot at 65 010).
    sell = max(min(50, max_lots), min_lots(DIMES, 650_100))
    assert sell == 5
    assert deliver(sent_a, "na/cheap", rich) == [
        abi.Action(abi.KIND_PLACE, abi.SIDE_SELL, abi.TYPE_IOC, 1, 650_100, sell)]
    # The cheap venue buys at its ask: its max of 5 lots of 0.00001 is worth 3.25, under the min notional of 5,
    # so it trades the minimum instead (8 lots, 5.20).
    want = min_lots(CENTS, 6_499_000)
    assert want == 8 > max_lots
    assert deliver(sent_b, "na/rich", cheap) == [
        abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_IOC, 1, 6_499_000, want)]

    # Less than the minimum at the cheap venue's ask (5 lots): both skip rather than send an order too small.
    assert cheap.on_book(book([(6_498_900, 500)], [(6_499_000, 5)])) == []
    assert any("skipped" in line for line in cheap.stats.logs)
    assert deliver(sent_a, "na/cheap", rich) == []  # 0.00005 BTC is less than one of its lots
    # Back to size: it trades again (no cooldown here).
    assert [(a.side, a.price_ticks, a.qty_lots) for a in cheap.on_book(book_a)] == [(abi.SIDE_BUY, 6_499_000, want)]
    for inst in (cheap, rich):
        assert inst.stopped is None and inst.stats.traps == 0


def test_misbehaving_in_its_default_mode_behaves(wasm: dict[str, Path], tmp_path: Path) -> None:
    inst = started(tmp_path, wasm["misbehaving"])
    for i in range(50):
        assert inst.on_book(book([(6_500_000 - i, 1)], [(6_500_005 + i, 1)])) == []
    assert inst.stopped is None
    assert inst.stats.traps == 0 and inst.stats.messages == 0 and inst.stats.rejected_messages == 0


def test_sdk_unit_tests_and_doc_examples_pass() -> None:
    """The Rust SDK's own tests (`cargo test`, native target, Debian's toolchain as the build uses)."""
    algos.build()  # installs the toolchain when missing
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "RUSTC": "/usr/bin/rustc", "RUSTDOC": "/usr/bin/rustdoc",
           "CARGO_TARGET_DIR": str(root / ".cache" / "sdk-target")}
    proc = subprocess.run(["/usr/bin/cargo", "test", "--offline", "--quiet"], cwd=root / "sdk" / "rust", env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "test result: ok" in proc.stdout
