"""The public SDK's layouts as the host writes them, read back by a guest built with the unmodified
`sequence-algo-sdk` 0.4 (`examples/algos-public/layout-probe`): what its own types see is what the
host meant, field by field; and the actions it returns, as the edge carries them out."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
import wasmtime
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm import public_abi as P
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import AbiViolation, Instance
from seqmesh.runtime.wasm.public_guest import PublicGuest
from seqmesh.runtime.wasm.validate import validate

from seqmesh.common.wasmfile import InvalidWasm
from seqmesh.testing import algos

SCALES = P.Scales.of(Decimal("0.01"), Decimal("0.00001"), Decimal("0.0001"), Decimal("5"))
IDENTITY = P.Identity(SCALES, 500_000, 10_000 * 10**9, 50, "na/binance", ("na/binance", "na/kraken", "eu/kraken"),
                      "BTC/USDT")


@pytest.fixture(scope="module")
def probe() -> bytes:
    return algos.build_public()["layout-probe"].read_bytes()


def guest(binary: bytes, messages: list[tuple[str, bytes]] | None = None,
          params: dict[str, str] | None = None) -> PublicGuest:
    def send(label: str, payload: bytes) -> int:
        if messages is not None:
            messages.append((label, payload))
        return abi.OK

    inst = Instance(Runtime(None).compile(binary), "probe", send=send)
    assert inst.abi_kind == "public"
    return PublicGuest(inst, IDENTITY, params or {}, 5)


def said(g: PublicGuest) -> dict[str, str]:
    """The probe's `key=value` lines since the last look."""
    lines = [line.removeprefix("info: ") for line in g.instance.stats.logs]
    g.instance.stats.logs.clear()
    return dict(line.split("=", 1) for line in lines)


def test_sizes_are_the_sdks() -> None:
    # The SDK asserts these sizes at compile time; the host's formats must agree.
    assert (P.BOOK.size, P.FILL.size, P.REJECT.size, P.ACTION.size, P.FEATURES_SIZE) == (656, 40, 16, 32, 256)
    assert (P.POOL_AMM.size, P.POOL_STATES_SIZE, P.CHAIN_FEES_SIZE, P.CONFIG.size) == (96, 3088, 392, 304)
    assert (P.POOL_META.size, P.STATE_SIZE, P.NBBO.size, P.VENUE_BOOKS_SIZE) == (48, 1576, 616, 13832)
    assert P.FEATURES_AT >= P.POOL_BOOKS_AT + P.POOL_BOOKS_SIZE  # the SDK's own overlap rule


def test_the_probe_is_recognised_by_its_exports_and_validated(probe: bytes) -> None:
    assert "algo_on_book_v3" in validate(probe)
    no_book = wasmtime.wat2wasm('(module (memory (export "memory") 4) '
                                '(func (export "algo_alloc") (param i32) (result i32) (i32.const 0)))')
    with pytest.raises(InvalidWasm, match="algo_on_book_v3"):
        validate(bytes(no_book))
    bad_sig = wasmtime.wat2wasm('(module (memory (export "memory") 4) '
                                '(func (export "algo_alloc") (param i32) (result i32) (i32.const 0))'
                                '(func (export "algo_on_book_v3") (param i32) (result i32) (i32.const 0)))')
    with pytest.raises(InvalidWasm, match="algo_on_book_v3"):
        validate(bytes(bad_sig))


def test_statics_among_the_fixed_tables_are_refused(probe: bytes) -> None:
    assert P.data_overlapping_tables(probe) is None  # Rust's layout: the stack first, data above 1 MiB
    module = '''(module (memory (export "memory") 4)
      (data (i32.const {at}) "statics")
      (func (export "algo_alloc") (param i32) (result i32) (i32.const 0x30000))
      (func (export "algo_on_book_v3") (param i32 i32) (result i32) (i32.const 0)))'''
    clash = bytes(wasmtime.wat2wasm(module.format(at=0x14000)))
    assert P.data_overlapping_tables(clash) == (0x14000, 0x14007)
    with pytest.raises(InvalidWasm, match="among the public SDK's tables"):
        validate(clash)
    assert P.data_overlapping_tables(bytes(wasmtime.wat2wasm(module.format(at=1024)))) is None


def test_book_state_features_config_and_mesh_table_read_back(probe: bytes) -> None:
    g = guest(probe, params={"0": "42", "1": "0.25", "2": "true", "name": "ignored"})
    bids = [(10_000_000 - i, 100 + i) for i in range(20)]
    asks = [(10_000_100 + i, 50 + i) for i in range(3)]
    book = P.book_in_units(SCALES, bids, asks, 123_456)
    features = P.encode_features([(SCALES.px(p), SCALES.sz(q)) for p, q in bids[:5]],
                                 [(SCALES.px(p), SCALES.sz(q)) for p, q in asks[:5]], 777)
    view = P.StateView(position_1e8=-2_000, avg_entry_1e9=99_000 * 10**9, realized_pnl_1e9=-5, unrealized_pnl_1e9=7,
                       fills=3, orders=[P.OpenOrder(11, 99_990 * 10**9, 1_000, 0, 1, P.STATUS_ACKED),
                                        P.OpenOrder(12, 100_010 * 10**9, 3_000, 1_000, -1, P.STATUS_PARTIAL)])
    assert g.on_book(book, features, view) == []
    got = said(g)
    assert g.instance.stopped is None
    assert got["book.counts"] == "20,3"
    assert got["book.bid0"] == f"{10_000_000 * 10**7},{100 * 1000}"  # a tick is 10^7 px_1e9, a lot 1000 sz_1e8
    assert got["book.ask0"] == f"{10_000_100 * 10**7},{50 * 1000}"
    assert got["book.last"] == f"{(10_000_000 - 19) * 10**7},{10_000_102 * 10**7}"
    assert got["book.recv_ns"] == "123456"
    assert got["state.position"] == f"-2000 avg={99_000 * 10**9} realized=-5 unrealized=7"
    assert got["state.orders"] == "2"
    assert got["state.order0"] == f"11,{99_990 * 10**9},1000,0,1,1"
    assert got["state.order1"] == f"12,{100_010 * 10**9},-3000,1000,-1,2"  # signed by side
    assert got["state.fills"] == "3"
    assert got["state.symbol"] == f"{10**7},1000,10000,{5 * 10**9},2,5"
    assert got["state.risk"] == f"500000,{10_000 * 10**9},50"
    assert got["state.mesh"] == f"{P.mesh_id('na/binance')},2,{P.mesh_id('na/kraken')}"
    assert got["state.name"] == "BTC/USDT"
    micro = (SCALES.px(bids[0][0]) * SCALES.sz(asks[0][1]) + SCALES.px(asks[0][0]) * SCALES.sz(bids[0][1])) // (
        SCALES.sz(asks[0][1]) + SCALES.sz(bids[0][1]))
    depth = (sum(q for _, q in bids[:5]) - sum(q for _, q in asks[:3])) * 10_000 // (
        sum(q for _, q in bids[:5]) + sum(q for _, q in asks[:3]))
    assert got["features"] == f"1,{micro},{depth},777"
    assert got["config"] == "3,42,0.25,true"
    assert got["mesh.self"] == f"na/binance,{P.mesh_id('na/binance')}"
    assert got["mesh.peer0"] == f"na/kraken,{P.mesh_id('na/kraken')}"
    assert got["mesh.peer1"] == f"eu/kraken,{P.mesh_id('eu/kraken')}"
    assert got["pools"] == "0,0"


def test_nbbo_and_venue_books_read_back_sorted_by_venue_id(probe: bytes) -> None:
    g = guest(probe)
    quotes = [P.VenueQuote("kraken", "na", [(100_000 * 10**9, 5 * 10**8)], [(100_020 * 10**9, 2 * 10**8)], 12),
              P.VenueQuote("binance", "eu", [(100_010 * 10**9, 10**8), (100_000 * 10**9, 10**8)],
                           [(100_030 * 10**9, 3 * 10**8)], 0)]
    nbbo, books = P.encode_nbbo(quotes, 9, 4242)
    assert g.on_nbbo(nbbo, books, P.StateView()) == []
    got = said(g)
    # kraken is venue 1 and binance 3: kraken takes slot 0
    assert got["nbbo"] == f"{100_010 * 10**9},{100_020 * 10**9},{10**8},{2 * 10**8},3,1,2,9"
    assert got["nbbo.venue0"] == f"1,{100_000 * 10**9},{100_020 * 10**9},{5 * 10**8},{2 * 10**8},12,0"
    assert got["nbbo.venue1"] == f"3,{100_010 * 10**9},{100_030 * 10**9},{10**8},{3 * 10**8},0,1"
    assert got["nbbo.recv_ns"] == "4242"
    assert got["books"] == "2,1,0"
    assert got["merged.counts"] == "2,2"
    assert got["merged.bid0"] == f"{100_010 * 10**9},{10**8}"
    assert got["merged.last"] == f"{100_000 * 10**9},{100_030 * 10**9}"  # 100 000 summed over both venues
    assert got["kraken.ask0"] == f"{100_020 * 10**9},{2 * 10**8}"
    assert got["binance.counts"] == "2,1"


def test_pool_books_and_states_read_back(probe: bytes) -> None:
    g = guest(probe)
    address = bytes(range(1, 21))
    pool = P.PoolSlot(address, "dex-arbitrum", 3000, P.PROTOCOL_UNISWAP_V3, [(2_000 * 10**9, 10**8)],
                      [(2_001 * 10**9, 2 * 10**8)], (1 << 70) + 5, 123, (1 << 64) * 3 + 1, (1 << 65) + 9, -200_123,
                      60, 81, 1_700_000_000, 180_000, 12)
    g.set_pools(*P.encode_pools([pool], 1), P.CHAIN_FEES_EMPTY)
    g.on_book(P.book_in_units(SCALES, [], [], 0), P.encode_features([], [], 0), P.StateView())
    got = said(g)
    assert got["pools"] == "1,1"
    assert got["pool0.meta"] == "1,20,30,12,2,180000"
    assert got["pool0.amm"] == (f"{(1 << 70) + 5},123,{(1 << 64) * 3 + 1},{(1 << 65) + 9},-200123,60,3000,1,81")
    assert got["pool.bid0"] == f"{2_000 * 10**9},{10**8}"


def test_fill_reject_message_and_the_actions_of_every_kind(probe: bytes) -> None:
    sent: list[tuple[str, bytes]] = []
    g = guest(probe, sent)
    g.on_fill(P.encode_fill(11, 100_000 * 10**9, 3_000, 99, -1), P.StateView(position_1e8=-3_000, fills=1))
    got = said(g)
    assert got["fill"] == f"11,{100_000 * 10**9},3000,99,-1" and got["state.position"].startswith("-3000 ")
    g.on_reject(12, P.REJECT_POSITION)
    assert said(g)["reject"] == "12,101"
    assert g.on_message("eu/kraken", b"hello", P.StateView()) == []
    assert said(g)["message"] == "eu/kraken,hello"
    assert sent == [("eu/kraken", b"back")]  # the reply went to the sender, through the mesh table
    actions = g.on_heartbeat(P.StateView())
    native = [P.to_native(a, SCALES) for a in actions]
    assert native[0] == abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_LIMIT, 7, 10_000, 1)  # 100.00 at 0.01
    assert native[1] == abi.Action(abi.KIND_PLACE, abi.SIDE_SELL, abi.TYPE_IOC, 8, 10_100, 2)
    assert native[2] == abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_MARKET, 9, 0, 3)
    assert native[3] == abi.Action(abi.KIND_CANCEL, 0, 0, 7, 0, 0)
    assert isinstance(native[4], str) and "amend" in native[4]
    assert isinstance(native[5], str) and "quantity 1 " in native[5]  # post_only_buy(10, 1, 1): not a lot
    post_only = P.PublicAction(10, 99 * 10**9, 2000, 1, P.ACTION_NEW, P.TYPE_POST_ONLY, 0, 0)
    assert P.to_native(post_only, SCALES) == abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_POST_ONLY, 10, 9900, 2)
    fok = P.PublicAction(11, 99 * 10**9, 1000, -1, P.ACTION_NEW, P.TYPE_FOK, 0, 0)
    assert P.to_native(fok, SCALES) == abi.Action(abi.KIND_PLACE, abi.SIDE_SELL, abi.TYPE_FOK, 11, 9900, 1)
    assert "unknown order type 9" in str(P.to_native(fok._replace(order_type=9), SCALES))


def test_off_tick_prices_and_sizes_are_refused_with_a_reason() -> None:
    off_tick = P.PublicAction(1, 100_000_000_001, 1000, 1, P.ACTION_NEW, P.TYPE_LIMIT, 0, 0)
    assert "tick" in str(P.to_native(off_tick, SCALES))
    off_lot = P.PublicAction(1, 10**9, 1500, 1, P.ACTION_NEW, P.TYPE_LIMIT, 0, 0)
    assert "lot" in str(P.to_native(off_lot, SCALES))
    with pytest.raises(ValueError, match="fraction"):
        P.Scales.of(Decimal("3e-10"), Decimal("1"), Decimal("1"), Decimal("1"))
    # An 18-decimal token's unit is finer than the SDK's: sizes round down, orders convert exactly.
    wei = P.Scales.of(Decimal("1e-6"), Decimal("1e-18"), Decimal("1e-18"), Decimal(0))
    assert (wei.lot_1e8, wei.sz(3 * 10**10 + 7), wei.lots(3)) == (0, 3, 3 * 10**10)
    assert (wei.tick_1e9, wei.px(5), wei.ticks(5000)) == (1000, 5000, 5)


def test_a_trapping_guest_stops_with_its_reason_and_a_bad_action_pointer_is_a_violation(probe: bytes) -> None:
    runaway = wasmtime.wat2wasm('''(module (import "env" "host_log_impl" (func $log (param i32 i32 i32)))
      (memory (export "memory") 4)
      (global $heap (mut i32) (i32.const 200000))
      (func (export "algo_alloc") (param i32) (result i32) (global.get $heap))
      (func (export "algo_on_book_v3") (param i32 i32) (result i32) (loop $l (br $l)) (i32.const 0))
      (func (export "algo_on_heartbeat") (param i32) (result i32) (i32.const 0x7ffffff0)))''')
    g = guest(bytes(runaway))
    assert g.on_heartbeat(P.StateView()) == []
    assert g.instance.stopped is not None and "ABI violation" in g.instance.stopped
    g = guest(bytes(runaway))
    assert g.on_book(P.book_in_units(SCALES, [], [], 0), bytes(P.FEATURES_SIZE), P.StateView()) == []
    assert g.instance.stopped is not None and "fuel" in g.instance.stopped
    assert g.instance.stats.traps == 1
    inside = wasmtime.wat2wasm('''(module (memory (export "memory") 4)
      (func (export "algo_alloc") (param i32) (result i32) (i32.const 0x10000))
      (func (export "algo_on_book_v3") (param i32 i32) (result i32) (i32.const 0)))''')
    with pytest.raises(AbiViolation, match="fixed tables"):
        guest(bytes(inside))


def test_config_values_are_checked() -> None:
    with pytest.raises(ValueError, match=r"slots 0\.\.31"):
        P.encode_config({"32": "1"}, 0)
    with pytest.raises(ValueError, match="not an integer"):
        P.encode_config({"3": "fast"}, 0)
    region = P.encode_config({"5": "-7"}, 1)
    assert struct.unpack_from("<q", region, 16 + 5 * 8)[0] == -7

