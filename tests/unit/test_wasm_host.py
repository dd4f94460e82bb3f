"""The wasmtime host against small guests written in WAT: the ABI, and misbehaviour contained."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import wasmtime
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import AbiViolation, Instance

PRELUDE = """
  (import "seqmesh" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "seqmesh" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 4096) "quotes")
  (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
  (func (export "book_ptr") (result i32) (i32.const 1024))
  (func (export "actions_ptr") (result i32) (i32.const 2048))
"""

# Bids at 1024+24; the best bid price is the first i64 there. Places a buy at the best bid.
GOOD = f"""(module {PRELUDE}
  (func (export "on_book") (param $book i32) (result i32)
    (if (i32.eqz (i32.load offset=16 (local.get $book))) (then (return (i32.const 0))))
    (i32.store8 offset=0 (i32.const 2048) (i32.const 1))   ;; kind = place
    (i32.store8 offset=1 (i32.const 2048) (i32.const 1))   ;; side = buy
    (i32.store8 offset=2 (i32.const 2048) (i32.const 1))   ;; type = limit
    (i32.store offset=4 (i32.const 2048) (i32.const 7))    ;; tag
    (i64.store offset=8 (i32.const 2048) (i64.load offset=24 (local.get $book)))  ;; price = best bid
    (i64.store offset=16 (i32.const 2048) (i64.const 100)) ;; qty lots
    (i32.const 1))
  (func (export "on_timer") (param i32) (result i32)
    (drop (call $send (i32.const 4096) (i32.const 6) (i32.const 0) (i32.const 300)))  ;; too large
    (i32.const 0))
)"""
LOOP = f"""(module {PRELUDE}
  (func (export "on_book") (param i32) (result i32) (loop $l (br $l)) (i32.const 0)))"""
BOMB = f"""(module {PRELUDE}
  (func (export "on_book") (param i32) (result i32)
    (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 64)) (i32.const -1))))
    unreachable))"""
TRAP = f"""(module {PRELUDE}
  (func (export "on_book") (param i32) (result i32) (i32.div_s (i32.const 1) (i32.const 0))))"""
LIAR = f"""(module {PRELUDE}
  (func (export "on_book") (param i32) (result i32) (i32.const 99)))"""
WILD = f"""(module {PRELUDE}
  (func (export "on_book") (param i32) (result i32)
    (drop (call $send (i32.const 0x7fff0000) (i32.const 6) (i32.const 4096) (i32.const 6))) (i32.const 0)))"""
# Every host import once, from on_timer; what they return is kept at 8192.. for the test to read.
IMPORTS = """(module
  (import "seqmesh" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "seqmesh" "log" (func $log (param i32 i32 i32)))
  (import "seqmesh" "now_ns" (func $now (result i64)))
  (import "seqmesh" "set_timer" (func $timer (param i32 i32) (result i32)))
  (import "seqmesh" "instrument" (func $instrument (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 4096) "quotes")
  (data (i32.const 4200) "bid 101")
  (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
  (func (export "book_ptr") (result i32) (i32.const 1024))
  (func (export "actions_ptr") (result i32) (i32.const 2048))
  (func (export "on_book") (param i32) (result i32) (i32.const 0))
  (func (export "on_timer") (param $id i32) (result i32)
    (call $log (i32.const 2) (i32.const 4096) (i32.const 6))
    (i32.store (i32.const 8192) (call $send (i32.const 4096) (i32.const 6) (i32.const 4200) (i32.const 7)))
    (i64.store (i32.const 8200) (call $now))
    (i32.store (i32.const 8208) (call $timer (i32.const 5) (i32.const 250)))
    (i32.store (i32.const 8212) (call $timer (i32.const 6) (i32.const 0)))  ;; invalid: 0 ms
    (i32.store (i32.const 8216) (call $instrument (i32.const 8300)))
    (i32.store (i32.const 8220) (call $instrument (i32.const 65530)))     ;; runs past the memory
    (i32.const 0))
)"""

BOOK = abi.encode_book(1, time.time_ns(), [(6500000, 3), (6499999, 4)], [(6500005, 2)])


def instance(rt: Runtime, wat: str, name: str = "algo") -> Instance:
    return Instance(rt.compile(wasmtime.wat2wasm(wat)), name, memory_limit=8 << 20)


def test_good_guest_gets_the_book_and_returns_actions(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    inst = instance(rt, GOOD)
    actions = inst.on_book(BOOK)
    assert actions == [abi.Action(abi.KIND_PLACE, abi.SIDE_BUY, abi.TYPE_LIMIT, 7, 6500000, 100)]
    assert inst.stats.calls == 1 and inst.stats.fuel_used > 0 and inst.stopped is None
    inst.on_timer(0)  # an oversized message: an error code to the guest, counted, not fatal
    assert inst.stats.rejected_messages == 1 and inst.stopped is None
    assert inst.on_book(BOOK)  # still running


@pytest.mark.parametrize(("wat", "reason"), [
    (LOOP, "fuel exhausted"), (BOMB, "trap"), (TRAP, "trap: wasm trap: integer divide by zero"),
    (LIAR, "ABI violation"),
    (WILD, "ABI violation: seqmesh.send: pointer outside guest memory"),
])
@pytest.mark.parametrize("tier", ["baseline", "optimized"])
def test_misbehaving_guest_is_stopped_and_its_sibling_goes_on(tmp_path: Path, wat: str, reason: str,
                                                             tier: str) -> None:
    rt = Runtime(tmp_path if tier == "baseline" else None)  # without a cache: Cranelift only
    bad, good = instance(rt, wat, "bad"), instance(rt, GOOD, "good")
    assert bad.on_book(BOOK) == []
    assert bad.stopped is not None and reason in bad.stopped, bad.stopped
    assert bad.on_book(BOOK) == [] and bad.stats.calls == 1, "a stopped instance is not called again"
    assert good.on_book(BOOK) and good.stopped is None
    assert bad.tier == good.tier == tier


def test_host_imports_do_what_the_abi_says(tmp_path: Path) -> None:
    sent: list[tuple[str, bytes]] = []
    timers: list[tuple[int, int]] = []
    instrument = bytes(range(abi.INSTRUMENT.size))
    inst = Instance(Runtime(tmp_path).compile(wasmtime.wat2wasm(IMPORTS)), "imports",
                    send=lambda label, payload: sent.append((label, payload)) or abi.OK,
                    set_timer=lambda timer_id, ms: timers.append((timer_id, ms)), instrument=instrument)
    before = time.time_ns()
    assert inst.on_timer(1) == [] and inst.stopped is None
    got = inst.memory.read(inst.store, 8192, 8224)
    assert inst.stats.logs == ["warn: quotes"]
    assert sent == [("quotes", b"bid 101")] and int.from_bytes(got[0:4], "little") == abi.OK
    assert inst.stats.messages == 1
    assert before <= int.from_bytes(got[8:16], "little") <= time.time_ns()
    assert timers == [(5, 250)] and inst.timers == {5}
    assert int.from_bytes(got[16:20], "little") == abi.OK
    assert int.from_bytes(got[20:24], "little", signed=True) == abi.E_INVALID
    assert int.from_bytes(got[24:28], "little") == abi.OK
    assert bytes(inst.memory.read(inst.store, 8300, 8300 + len(instrument))) == instrument
    assert int.from_bytes(got[28:32], "little", signed=True) == abi.E_BAD_POINTER


def test_instances_leave_nothing_behind(tmp_path: Path) -> None:
    """Each instance's imports are registered for wasmtime's callbacks; a dropped instance's
    entries go with its store (a deploy loop must not grow the edge)."""
    import gc

    from seqmesh.runtime.wasm import host

    compiled = Runtime(tmp_path).compile(wasmtime.wat2wasm(IMPORTS))
    gc.collect()
    before = len(host._REGISTERED)
    for _ in range(20):
        inst = Instance(compiled, "churn", send=lambda label, payload: abi.OK)
        assert inst.on_timer(1) == [] and inst.stats.messages == 1
        del inst
    gc.collect()
    assert len(host._REGISTERED) == before


def test_abi_checks_at_instantiation(tmp_path: Path) -> None:
    rt = Runtime(tmp_path)
    with pytest.raises(AbiViolation, match="missing exports"):
        instance(rt, '(module (memory (export "memory") 1))')
    wrong = GOOD.replace('(func (export "seqmesh_abi_version") (result i32) (i32.const 1))',
                         '(func (export "seqmesh_abi_version") (result i32) (i32.const 9))')
    with pytest.raises(AbiViolation, match="ABI 9"):
        instance(rt, wrong)


def test_deploy_runs_baseline_code_at_once_and_later_loads_optimised_code(tmp_path: Path) -> None:
    binary = wasmtime.wat2wasm(GOOD)
    rt = Runtime(tmp_path)
    first = rt.compile(binary)
    assert first.tier == "baseline"  # Winch: no wait for Cranelift
    baseline = Instance(first, "x")
    assert baseline.on_book(BOOK) and baseline.tier == "baseline"
    (pending,) = rt.pending.values()
    pending.result(timeout=60)  # Cranelift in the background, into the cache
    assert len(list(tmp_path.glob("*.cwasm"))) == 1 and not list(tmp_path.glob("*.tmp"))
    again = Runtime(tmp_path)  # a redeploy or a restarted edge: optimised code from the cache
    optimized = Instance(again.compile(binary), "y")
    assert optimized.tier == "optimized" and not again.pending
    # The two tiers run the same program (their fuel meters differ by a few units per call).
    assert optimized.on_book(BOOK) == Instance(rt.compile(binary), "z").on_book(BOOK) == baseline.on_book(BOOK)
    # A stale or foreign cache entry, put in place as files are replaced (a new inode: the modules
    # mapped from the old file above must keep their pages, or touching them raises SIGBUS).
    entry = next(tmp_path.glob("*.cwasm"))
    (tmp_path / "foreign").write_bytes(b"garbage")
    os.replace(tmp_path / "foreign", entry)
    fresh = Runtime(tmp_path)
    assert Instance(fresh.compile(binary), "w").on_book(BOOK)  # baseline again, the cache rewritten
    fresh.pending[next(iter(fresh.pending))].result(timeout=60)
    assert Runtime(tmp_path).compile(binary).tier == "optimized"


def test_a_module_winch_cannot_compile_gets_cranelift_code_at_once(tmp_path: Path) -> None:
    tail_call = GOOD.replace('(func (export "seqmesh_abi_version") (result i32) (i32.const 1))',
                             '(func $one (result i32) (i32.const 1))'
                             '(func (export "seqmesh_abi_version") (result i32) (return_call $one))')
    rt = Runtime(tmp_path)
    compiled = rt.compile(wasmtime.wat2wasm(tail_call))
    assert compiled.tier == "optimized" and not rt.pending and len(list(tmp_path.glob("*.cwasm"))) == 1
    assert Instance(compiled, "x").on_book(BOOK)
    with pytest.raises(wasmtime.WasmtimeError):
        rt.compile(b"\0asm\x01\0\0\0\x01")  # invalid for both compilers
