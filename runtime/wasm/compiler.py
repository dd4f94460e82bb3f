"""Compiling algo modules in two tiers, with the optimised code cached on disk.

A deploy must not wait for an optimising compiler: Cranelift takes ≈ 300 ms for 1 MiB of dense
code on a 2-core machine, Winch (wasmtime's baseline compiler) ≈ 35 ms, and for the guest code
algos run the two differ by ≈ 1.5x in a tight loop and not measurably in `on_book` dispatch
(`bench/run.py wasm`). So `compile` returns Winch code at once and a background thread, at a
lower CPU priority so trading on the edge keeps the cores, compiles the same binary with
Cranelift into the cache. Every later instantiation (a redeploy, an edge restart) loads the
optimised code from the cache in ≈ 1 ms. A running instance keeps the code it started with:
its state lives in linear memory, globals and tables the host cannot all copy safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import wasmtime
from wasmtime import _ffi as ffi

Tier = Literal["baseline", "optimized"]

_STRATEGY = {"optimized": 1, "baseline": 2}  # wasmtime_strategy_t: CRANELIFT, WINCH (wasmtime-py names only the first)
BACKGROUND_NICE = 10  # the optimising compile's niceness: below the edge's event loop


@dataclass(frozen=True)
class Compiled:
    """A module with the engine it was compiled by (a store must belong to the same engine)."""

    module: wasmtime.Module
    engine: wasmtime.Engine
    tier: Tier


@cache
def engine(tier: Tier, parallel: bool = True) -> wasmtime.Engine:
    """The process's engine for a tier (engines are thread-safe and shared)."""
    config = wasmtime.Config()
    config.consume_fuel = True
    config.memory_may_move = False  # the host keeps a view of each instance's memory
    config.parallel_compilation = parallel
    ffi.wasmtime_config_strategy_set(config.ptr(), _STRATEGY[tier])
    return wasmtime.Engine(config)


def quick_compile(binary: bytes) -> wasmtime.Module:
    """The module compiled as fast as possible, for checks that need it but not its speed (the
    CC's upload validation). Raises wasmtime.WasmtimeError for an invalid module."""
    try:
        return wasmtime.Module(engine("baseline"), binary)
    except wasmtime.WasmtimeError:  # invalid, or beyond Winch: Cranelift's verdict stands
        return wasmtime.Module(engine("optimized"), binary)


class Runtime:
    """One edge's engines (a baseline and an optimising one) and its cache of optimised modules,
    keyed by the binary's content hash. Without a cache directory every compile is optimising."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.engines: dict[Tier, wasmtime.Engine] = {
            "baseline": engine("baseline"),
            # Serial, so the whole compile runs in the one thread whose priority is lowered.
            "optimized": engine("optimized", parallel=cache_dir is None)}
        self.pending: dict[str, Future[wasmtime.Module]] = {}  # content hash -> its background optimisation
        self._lock = threading.Lock()
        # One optimising compile at a time, in a thread below the edge's event loop in priority.
        self._optimizer = ThreadPoolExecutor(1, thread_name_prefix="wasm-optimize", initializer=_lower_priority)

    def compile(self, binary: bytes) -> Compiled:
        """Optimised code from the cache, else baseline code now and optimised code in the background.

        A module Winch cannot compile (a proposal it does not implement) is compiled by Cranelift
        straight away. Raises wasmtime.WasmtimeError for an invalid module."""
        optimized = self.engines["optimized"]
        if self.cache_dir is None:
            return Compiled(wasmtime.Module(optimized, binary), optimized, "optimized")
        key = hashlib.sha256(binary).hexdigest()
        cached = self._load(key)
        if cached is not None:
            return cached
        baseline = self.engines["baseline"]
        try:
            module = wasmtime.Module(baseline, binary)
        except wasmtime.WasmtimeError:  # invalid, or beyond Winch: Cranelift's verdict stands
            return Compiled(self._optimize(key, binary), optimized, "optimized")
        with self._lock:  # compiles run in worker threads (asyncio.to_thread)
            if key not in self.pending or self.pending[key].done():
                self.pending[key] = self._optimizer.submit(self._optimize, key, binary)
        return Compiled(module, baseline, "baseline")

    def _path(self, key: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{key}.cwasm"

    def _load(self, key: str) -> Compiled | None:
        path, engine = self._path(key), self.engines["optimized"]
        if not path.exists():
            return None
        try:
            # Mapped, not read: the file is only ever replaced by rename, never rewritten.
            return Compiled(wasmtime.Module.deserialize_file(engine, str(path)), engine, "optimized")
        except wasmtime.WasmtimeError:
            path.unlink(missing_ok=True)  # another wasmtime version or a damaged file: compile again
            return None

    def _optimize(self, key: str, binary: bytes) -> wasmtime.Module:
        """Compile with Cranelift and publish the result to the cache atomically."""
        module = wasmtime.Module(self.engines["optimized"], binary)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{threading.get_native_id()}.tmp")
        tmp.write_bytes(module.serialize())
        tmp.replace(path)
        return module


def _lower_priority() -> None:
    with contextlib.suppress(OSError):  # not Linux: run at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)  # this thread only
