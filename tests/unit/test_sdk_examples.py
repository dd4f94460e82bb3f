"""The Rust SDK's example algos (examples/algos), built to wasm and run in the real wasmtime host."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm.host import Instance, Runtime

from seqmesh.testing import algos

Book = list[tuple[int, int]]


@pytest.fixture(scope="module")
def wasm() -> dict[str, Path]:
    return algos.build()


def book(bids: Book, asks: Book) -> bytes:
    return abi.encode_book(0, time.time_ns(), bids, asks)


def started(tmp_path: Path, path: Path, messages: list[tuple[str, bytes]] | None = None) -> Instance:
    """An instance after on_start without parameters (the algo's defaults)."""

    def send(label: str, payload: bytes) -> int:
        if messages is not None:
            messages.append((label, payload))
        return abi.OK

    rt = Runtime(tmp_path)
    inst = Instance(rt, rt.compile(path.read_bytes()), path.stem, send=send)
    assert inst.call("on_start", 0, 0) == 0
    assert inst.stopped is None
    return inst


def test_examples_export_the_whole_abi_and_import_only_seqmesh(wasm: dict[str, Path], tmp_path: Path) -> None:
    assert set(wasm) == {"market-maker", "arb-mesh", "misbehaving"}
    rt = Runtime(tmp_path)
    for path in wasm.values():
        module = rt.compile(path.read_bytes())
        assert {i.module for i in module.imports} == {"seqmesh"}
        assert {i.name for i in module.imports} <= {"log", "now_ns", "send", "set_timer"}
        exports = {e.name for e in module.exports}
        assert {*abi.REQUIRED_EXPORTS, *abi.OPTIONAL_EXPORTS, "event_ptr"} <= exports


def test_market_maker_quotes_around_mid_and_follows_it(wasm: dict[str, Path], tmp_path: Path) -> None:
    inst = started(tmp_path, wasm["market-maker"])
    assert any("market-maker" in line for line in inst.stats.logs)

    first = book([(6_500_000, 3), (6_499_999, 4)], [(6_500_004, 2)])  # mid 6_500_002
    actions = inst.on_book(first)
    assert len(actions) == 2
    bid, ask = sorted(actions, key=lambda a: a.side)
    assert bid == abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_LIMIT, bid.tag, 6_500_002 - 5, 1)
    assert ask == abi.Action(abi.KIND_PLACE, abi.SIDE_SELL, abi.TYPE_LIMIT, ask.tag, 6_500_002 + 5, 1)
    assert bid.tag != ask.tag

    assert inst.on_book(first) == []  # nothing moved: the quotes stay

    actions = inst.on_book(book([(6_500_010, 3)], [(6_500_014, 2)]))  # mid + 10
    cancels = {a.tag for a in actions if a.kind == abi.KIND_CANCEL}
    places = {(a.side, a.price_ticks, a.qty_lots): a.tag for a in actions if a.kind == abi.KIND_PLACE}
    assert cancels == {bid.tag, ask.tag} and len(actions) == 4
    assert set(places) == {(abi.SIDE_BUY, 6_500_007, 1), (abi.SIDE_SELL, 6_500_017, 1)}
    assert not set(places.values()) & {bid.tag, ask.tag}  # fresh tags
    assert len(set(places.values())) == 2
    assert inst.stopped is None and inst.stats.traps == 0


def test_arb_mesh_shares_its_top_of_book_and_does_not_trade_alone(wasm: dict[str, Path], tmp_path: Path) -> None:
    sent: list[tuple[str, bytes]] = []
    inst = started(tmp_path, wasm["arb-mesh"], sent)

    plain = book([(6_500_000, 3)], [(6_500_004, 2)])
    assert inst.on_book(plain) == []
    assert inst.stats.messages == 1
    assert [(label, struct.unpack("<4q", payload)) for label, payload in sent] == [
        ("quote", (6_500_000, 3, 6_500_004, 2))]

    assert inst.on_book(plain) == []  # same top of book: nothing new to say
    assert inst.stats.messages == 1
    assert inst.on_book(book([(6_500_001, 1)], [(6_500_004, 2)])) == []
    assert inst.stats.messages == 2
    assert inst.stopped is None


def test_misbehaving_in_its_default_mode_behaves(wasm: dict[str, Path], tmp_path: Path) -> None:
    inst = started(tmp_path, wasm["misbehaving"])
    for i in range(50):
        assert inst.on_book(book([(6_500_000 - i, 1)], [(6_500_005 + i, 1)])) == []
    assert inst.stopped is None
    assert inst.stats.traps == 0 and inst.stats.messages == 0 and inst.stats.rejected_messages == 0
