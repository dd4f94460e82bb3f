"""WASM host figures: `on_book` dispatch including the book write (goal p50 <= 3 us), beside
wasmtime-py's generic `Func.__call__` path measured in the same run; compile and cache load."""

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
from seqmesh.runtime.wasm.host import Instance, Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from test_wasm_host import GOOD


def run(calls: int = 50_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        binary = wasmtime.wat2wasm(GOOD)
        t0 = time.perf_counter()
        rt = Runtime(Path(tmp))
        module = rt.compile(binary)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        Runtime(Path(tmp)).compile(binary)
        warm = time.perf_counter() - t0
        inst = Instance(rt, module, "bench")
        book = abi.encode_book(1, time.time_ns(), [(6500000 - i, 3 + i) for i in range(20)],
                               [(6500005 + i, 2 + i) for i in range(20)])
        quiet = abi.encode_book(1, time.time_ns(), [], [])  # the guest returns no action for it
        dispatch = []
        for _ in range(calls):
            t = time.perf_counter_ns()
            inst.on_book(quiet)
            dispatch.append(time.perf_counter_ns() - t)
        fast, slow = [], []
        for _ in range(calls):
            t = time.perf_counter_ns()
            inst.on_book(book)
            fast.append(time.perf_counter_ns() - t)
        func, store, mem = inst.exports["on_book"], inst.store, inst.memory
        for _ in range(calls // 5):
            t = time.perf_counter_ns()
            mem.write(store, book, inst.book_ptr)
            store.set_fuel(inst.fuel)
            func(store, inst.book_ptr)
            slow.append(time.perf_counter_ns() - t)
    fast.sort()
    return {
        "on_book_no_action_p50_us": round(statistics.median(dispatch) / 1000, 2),
        "on_book_p50_us": round(statistics.median(fast) / 1000, 2),
        "on_book_p99_us": round(fast[int(len(fast) * 0.99)] / 1000, 2),
        "baseline_generic_call_p50_us": round(statistics.median(slow) / 1000, 2),
        "ratio_vs_generic": round(statistics.median(slow) / statistics.median(fast), 2),
        "compile_small_module_ms": round(cold * 1000, 2), "cache_load_ms": round(warm * 1000, 2),
        "goal_on_book_p50_us": 3,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
