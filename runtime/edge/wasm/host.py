"""The wasmtime host: compile once (serialised cache), run each guest call under a fuel budget
and a memory limit, and stop an instance that traps, runs away or breaks the ABI — never the edge.

The hot path (`on_book`) avoids wasmtime-py's generic call wrapper: the book is copied
straight into guest memory with `ctypes.memmove`, and the export is called through
`wasmtime_func_call_unchecked` with a preallocated raw value array (wasmtime pinned to 50.x).
"""

from __future__ import annotations

import ctypes
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _bindings
from wasmtime import _ffi as ffi

from . import abi

_memory_data = _bindings._wasmtime_memory_data
_set_fuel = _bindings._wasmtime_context_set_fuel
_get_fuel = _bindings._wasmtime_context_get_fuel
_call_unchecked = _bindings._wasmtime_func_call_unchecked

DEFAULT_FUEL = 5_000_000  # per call: generous for real work, fatal for a runaway loop
DEFAULT_MEMORY = 32 << 20  # bytes of linear memory an instance may grow to


class AbiViolation(Exception):
    pass


@dataclass
class Stats:
    calls: int = 0
    fuel_used: int = 0
    traps: int = 0
    messages: int = 0
    rejected_messages: int = 0
    logs: list[str] = field(default_factory=list)


class Runtime:
    """One wasmtime engine per edge; compiled modules cached on disk by content hash."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        self.engine = wasmtime.Engine(config)
        self.cache_dir = cache_dir

    def compile(self, binary: bytes) -> wasmtime.Module:
        key = hashlib.sha256(binary).hexdigest()
        path = self.cache_dir / f"{key}.cwasm" if self.cache_dir else None
        if path is not None and path.exists():
            try:
                return wasmtime.Module.deserialize(self.engine, path.read_bytes())
            except wasmtime.WasmtimeError:
                path.unlink(missing_ok=True)  # another wasmtime version: compile again
        module = wasmtime.Module(self.engine, binary)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(module.serialize())
            tmp.replace(path)
        return module


class Instance:
    """One algo instance on one edge."""

    def __init__(self, runtime: Runtime, module: wasmtime.Module, name: str,
                 send: Callable[[str, bytes], None] | None = None, fuel: int = DEFAULT_FUEL,
                 memory_limit: int = DEFAULT_MEMORY) -> None:
        self.name = name
        self.fuel = fuel
        self.stats = Stats()
        self.stopped: str | None = None  # the reason, once stopped
        self._send = send
        self.store = wasmtime.Store(runtime.engine)
        self.store.set_limits(memory_size=memory_limit)
        linker = wasmtime.Linker(runtime.engine)
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        linker.define_func("seqmesh", "log", wasmtime.FuncType([i32, i32, i32], []), self._log, access_caller=True)
        linker.define_func("seqmesh", "now_ns", wasmtime.FuncType([], [i64]), time.time_ns)
        linker.define_func("seqmesh", "send", wasmtime.FuncType([i32, i32, i32, i32], [i32]), self._send_msg,
                           access_caller=True)
        self.store.set_fuel(fuel)
        try:
            self.instance = linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise AbiViolation(f"cannot instantiate: {exc}") from None
        exports = self.instance.exports(self.store)
        missing = [e for e in abi.REQUIRED_EXPORTS if e not in exports]
        if missing:
            raise AbiViolation(f"missing exports: {', '.join(missing)}")
        memory = exports["memory"]
        if not isinstance(memory, wasmtime.Memory):
            raise AbiViolation("export 'memory' is not a linear memory")
        self.memory = memory
        self.exports: dict[str, wasmtime.Func] = {}
        for name in (*abi.REQUIRED_EXPORTS, *abi.OPTIONAL_EXPORTS):
            if name == "memory" or name not in exports:
                continue
            func = exports[name]
            if not isinstance(func, wasmtime.Func):
                raise AbiViolation(f"export {name!r} is not a function")
            self.exports[name] = func
        version = self._call_slow("seqmesh_abi_version")
        if version != abi.ABI_VERSION:
            raise AbiViolation(f"guest speaks ABI {version}, this edge speaks {abi.ABI_VERSION}")
        self.book_ptr = int(self._call_slow("book_ptr"))
        self.actions_ptr = int(self._call_slow("actions_ptr"))
        self._check_region(self.book_ptr, abi.BOOK_SIZE)
        self._check_region(self.actions_ptr, abi.MAX_ACTIONS * abi.ACTION.size)
        # The hot path's preallocated pieces: raw argument/result slot, trap slot, context, handles.
        self._raw = (ffi.wasmtime_val_raw_t * 1)()
        self._on_book = self.exports["on_book"]
        self._ctx = self.store._context()
        self._func_ref = ctypes.byref(self._on_book._func)
        self._mem_ref = ctypes.byref(self.memory._memory)
        self._fuel_left = ctypes.c_uint64()
        self._fuel_ref = ctypes.byref(self._fuel_left)
        self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
        self._trap_ref = ctypes.byref(self._trap)

    # -- host imports ----------------------------------------------------------------------

    def _read(self, caller: Any, ptr: int, length: int) -> bytes:
        mem = caller["memory"]
        if ptr < 0 or length < 0 or ptr + length > mem.data_len(caller):
            raise AbiViolation("pointer outside guest memory")
        return bytes(mem.read(caller, ptr, ptr + length))

    def _log(self, caller: Any, level: int, ptr: int, length: int) -> None:
        text = self._read(caller, ptr, min(length, 4096)).decode(errors="replace")
        self.stats.logs.append(f"{level}:{text}")
        del self.stats.logs[:-200]

    def _send_msg(self, caller: Any, label_ptr: int, label_len: int, ptr: int, length: int) -> int:
        if length > abi.MAX_MESSAGE or label_len > 64:
            self.stats.rejected_messages += 1
            return abi.E_TOO_LARGE
        label = self._read(caller, label_ptr, label_len).decode(errors="replace")
        payload = self._read(caller, ptr, length)
        self.stats.messages += 1
        if self._send is not None:
            self._send(label, payload)
        return abi.OK

    # -- calls -----------------------------------------------------------------------------

    def _check_region(self, ptr: int, size: int) -> None:
        if ptr <= 0 or ptr + size > self.memory.data_len(self.store):
            raise AbiViolation(f"guest region [{ptr}, {ptr + size}) is outside its memory")

    def _stop(self, reason: str) -> None:
        self.stopped = reason
        self.stats.traps += 1

    def _budget(self) -> None:
        self.store.set_fuel(self.fuel)

    def _spent(self) -> None:
        self.stats.fuel_used += self.fuel - self.store.get_fuel()

    def _call_slow(self, name: str, *args: Any) -> Any:
        self._budget()
        try:
            return self.exports[name](self.store, *args)
        finally:
            self._spent()

    def call(self, name: str, *args: Any) -> Any:
        """Any optional export, guarded: a trap stops this instance and returns None."""
        if self.stopped or name not in self.exports:
            return None
        try:
            self.stats.calls += 1
            return self._call_slow(name, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError, AbiViolation) as exc:
            self._stop(_reason(exc))
            return None

    def on_book(self, book: bytes) -> list[abi.Action]:
        """The hot path: write the book, call on_book, read the actions it returned."""
        if self.stopped:
            return []
        ctx = self._ctx
        # The memory may have moved if the guest grew it: take its base afresh (one C call).
        # The raw ctypes entry points (`_wasmtime_*`) skip a Python frame each; wasmtime is pinned.
        base = ctypes.addressof(_memory_data(ctx, self._mem_ref).contents)
        ctypes.memmove(base + self.book_ptr, book, len(book))
        raw = self._raw
        raw[0].i32 = self.book_ptr
        self.stats.calls += 1
        _set_fuel(ctx, self.fuel)
        error = _call_unchecked(ctx, self._func_ref, raw, 1, self._trap_ref)
        _get_fuel(ctx, self._fuel_ref)
        self.stats.fuel_used += self.fuel - self._fuel_left.value
        trap = self._trap
        if error or trap:
            exc: Exception = wasmtime.WasmtimeError._from_ptr(error) if error else wasmtime.Trap._from_ptr(trap)
            self._stop(_reason(exc))
            return []
        count = raw[0].i32
        if count == 0:
            return []
        if not 0 < count <= abi.MAX_ACTIONS:
            self._stop(f"ABI violation: on_book returned {count} actions (0..{abi.MAX_ACTIONS})")
            return []
        base = ctypes.addressof(_memory_data(ctx, self._mem_ref).contents)
        return abi.decode_actions(ctypes.string_at(base + self.actions_ptr, count * abi.ACTION.size), count)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "fuel" in text:
        return "fuel exhausted: the call ran too long (runaway loop?)"
    if "memory" in text and ("limit" in text or "grow" in text):
        return f"memory limit: {text.splitlines()[0]}"
    return f"trap: {text.splitlines()[0] if text else type(exc).__name__}"
