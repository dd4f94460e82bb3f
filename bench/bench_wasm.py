"""WASM host figures: `on_book` dispatch including the book write (goal p50 <= 3 us), beside
wasmtime-py's generic `Func.__call__` path measured in the same run, for both code tiers; a
host import (`send`) called from the guest, beside the same import defined the generic way; cold
compile of 1 MiB modules (goal <= 20 ms: the baseline tier a deploy waits for, beside the
optimising compile that runs in the background) and loading them from the cache (goal <= 2 ms);
the example algos."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import wasmtime
from seqmesh.runtime.wasm import abi
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import Instance

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from test_wasm_host import GOOD, PRELUDE

# A guest that calls `send` n times in a loop: the export call is amortised, the import remains.
SPAM = f"""(module {PRELUDE}
  (func (export "on_book") (param i32) (result i32) (i32.const 0))
  (func (export "spam") (param $n i32) (result i32)
    (loop $l
      (drop (call $send (i32.const 4096) (i32.const 6) (i32.const 4096) (i32.const 6)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.const 0)))"""


def dense_module(exported: bool = False) -> bytes:
    """About 1 MiB of code: 2,000 small arithmetic functions (the worst case to compile). An algo
    exports only the ABI's dozen functions, so by default they are internal, reached by calls
    from one export; `exported` exports every one (each export costs a Cranelift-compiled entry
    trampoline whichever tier compiles the body)."""
    def func(f: int) -> str:
        ops = "".join(f"(local.set $x (i64.add (i64.mul (local.get $x) (i64.const {f * 31 + k + 3})) "
                      f"(i64.const {k})))" for k in range(40))
        export = f'(export "f{f}")' if exported else ""
        return f'(func $f{f} {export} (param $x i64) (result i64) {ops} (local.get $x))'
    n = 2000
    calls = "".join(f"(local.set $x (call $f{f} (local.get $x)))" for f in range(n))
    entry = f'(func (export "run") (param $x i64) (result i64) {calls} (local.get $x))'
    body = " ".join(func(f) for f in range(n))
    return bytes(wasmtime.wat2wasm(f'(module (memory (export "memory") 1) {body} {entry})'))


def data_module(target: int = 1 << 20) -> bytes:
    """A small algo carrying about `target` bytes of tables (a model, a lookup grid)."""
    blob = "".join(f"\\{b:02x}" for b in bytes(range(256)) * ((target - 4096) // 256))
    return bytes(wasmtime.wat2wasm(GOOD.replace("(memory (export \"memory\") 1)",
                                                f'(memory (export "memory") 17) (data (i32.const 65536) "{blob}")')))


def compile_times(binary: bytes, tmp: Path) -> dict[str, float]:
    """What a deploy waits for (baseline code), the optimising compile behind it (serial, as the
    background thread runs it) and a fresh runtime's load of its result from the cache, in ms."""
    rt = Runtime(tmp)
    t0 = time.perf_counter()
    rt.compile(binary)
    cold = time.perf_counter() - t0
    for future in rt.pending.values():
        future.result()
    t0 = time.perf_counter()
    wasmtime.Module(rt.engines["optimized"], binary)
    optimized = time.perf_counter() - t0
    loads = []
    for _ in range(5):
        fresh = Runtime(tmp)
        t0 = time.perf_counter()
        assert fresh.compile(binary).tier == "optimized"
        loads.append(time.perf_counter() - t0)
    return {"cold_compile_ms": round(cold * 1000, 1), "optimizing_compile_ms": round(optimized * 1000, 1),
            "cached_load_ms": round(statistics.median(loads) * 1000, 2)}


def dispatch(inst: Instance, book: bytes, calls: int) -> list[int]:
    times = []
    for _ in range(calls):
        t = time.perf_counter_ns()
        inst.on_book(book)
        times.append(time.perf_counter_ns() - t)
    times.sort()
    return times


def import_call_us(rt: Runtime, rounds: int = 20, per_call: int = 1000) -> dict[str, float]:
    """µs per `send` import: seqmesh's raw imports vs wasmtime-py's `Linker.define_func` with the
    same work (read the label and payload from guest memory, hand them on)."""
    compiled = rt.compile(wasmtime.wat2wasm(SPAM))
    got: list[tuple[str, bytes]] = []
    inst = Instance(compiled, "spam", send=lambda label, payload: got.append((label, payload)) or abi.OK,
                    fuel=1 << 40)
    ours = inst.instance.exports(inst.store)["spam"]

    i32 = wasmtime.ValType.i32()
    store = wasmtime.Store(compiled.engine)
    store.set_fuel(1 << 40)
    linker = wasmtime.Linker(compiled.engine)

    def send(caller: Any, lp: int, ll: int, p: int, n: int) -> int:
        mem = caller["memory"]
        got.append((bytes(mem.read(caller, lp, lp + ll)).decode(), bytes(mem.read(caller, p, p + n))))
        return abi.OK

    linker.define_func("seqmesh", "send", wasmtime.FuncType([i32] * 4, [i32]), send, access_caller=True)
    linker.define_func("seqmesh", "log", wasmtime.FuncType([i32] * 3, []), lambda *a: None, access_caller=True)
    generic = linker.instantiate(store, compiled.module).exports(store)["spam"]

    def per_import(call: Any, st: Any) -> float:
        samples = []
        for _ in range(rounds):
            got.clear()
            t = time.perf_counter_ns()
            call(st, per_call)
            samples.append((time.perf_counter_ns() - t) / per_call / 1000)
            assert got[-1] == ("quotes", b"quotes") and len(got) == per_call
        return statistics.median(samples)

    raw, slow = per_import(ours, inst.store), per_import(generic, store)
    return {"host_import_send_us": round(raw, 2), "baseline_generic_import_send_us": round(slow, 2),
            "ratio_import_vs_generic": round(slow / raw, 2)}


def run(calls: int = 50_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        binary = wasmtime.wat2wasm(GOOD)
        t0 = time.perf_counter()
        rt = Runtime(Path(tmp))
        baseline = rt.compile(binary)
        cold = time.perf_counter() - t0
        for future in rt.pending.values():
            future.result()
        t0 = time.perf_counter()
        optimized = Runtime(Path(tmp)).compile(binary)
        warm = time.perf_counter() - t0
        book = abi.encode_book(1, time.time_ns(), [(6500000 - i, 3 + i) for i in range(20)],
                               [(6500005 + i, 2 + i) for i in range(20)])
        quiet = abi.encode_book(1, time.time_ns(), [], [])  # the guest returns no action for it
        t = time.perf_counter_ns()
        for _ in range(calls // 5):
            abi.encode_book(1, 0, [(6500000 - i, 3 + i) for i in range(20)], [(6500005 + i, 2 + i) for i in range(20)])
        encode_us = (time.perf_counter_ns() - t) / (calls // 5) / 1000
        sizes: dict[str, Any] = {}
        for label, big in (("dense_code_1mib", dense_module()), ("dense_code_1mib_2000_exports", dense_module(True)),
                           ("data_1mib", data_module())):
            sizes[label] = {"bytes": len(big), **compile_times(big, Path(tmp) / label)}
        try:
            from seqmesh.testing.algos import build

            for label, path in build().items():
                sizes[label] = {"bytes": path.stat().st_size, **compile_times(path.read_bytes(), Path(tmp) / label)}
        except RuntimeError as exc:  # no Rust toolchain here: the synthetic modules still tell
            sizes["examples"] = {"error": str(exc)[:200]}
        inst = Instance(optimized, "bench")
        quiet_times = dispatch(inst, quiet, calls)
        fast = dispatch(inst, book, calls)
        base = dispatch(Instance(baseline, "bench-baseline"), book, calls)
        slow = []
        func, store, mem = inst.exports["on_book"], inst.store, inst.memory
        for _ in range(calls // 5):
            t = time.perf_counter_ns()
            mem.write(store, book, inst.book_ptr)
            store.set_fuel(inst.fuel)
            func(store, inst.book_ptr)
            slow.append(time.perf_counter_ns() - t)
        imports = import_call_us(rt)
    return {
        "on_book_no_action_p50_us": round(statistics.median(quiet_times) / 1000, 2),
        "on_book_p50_us": round(statistics.median(fast) / 1000, 2),
        "on_book_p99_us": round(fast[int(len(fast) * 0.99)] / 1000, 2),
        "on_book_baseline_tier_p50_us": round(statistics.median(base) / 1000, 2),
        "baseline_generic_call_p50_us": round(statistics.median(slow) / 1000, 2),
        "ratio_vs_generic": round(statistics.median(slow) / statistics.median(fast), 2),
        "encode_book_20x20_us": round(encode_us, 2),
        **imports,
        "compile_small_module_ms": round(cold * 1000, 2), "cache_load_ms": round(warm * 1000, 2),
        "modules": sizes,
        "goal_on_book_p50_us": 3, "goal_cold_compile_1mib_ms": 20, "goal_cached_load_ms": 2,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
