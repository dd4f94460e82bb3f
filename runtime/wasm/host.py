"""The wasmtime host (compiling is `compiler.py`): run each guest call under a fuel budget
and a memory limit, and stop an instance that traps, runs away or breaks the ABI — never the edge.

The hot path (`on_book`) avoids wasmtime-py's generic call wrapper: the book is copied
straight into guest memory through a memoryview over the instance's fixed regions, the export
is called through `wasmtime_func_call_unchecked` with a preallocated raw value array (exports'
signatures are checked at instantiation, wasmtime is pinned to 50.x), and the actions are
unpacked from the same view.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import _bindings
from wasmtime import _ffi as ffi

from seqmesh.common.wasmfile import InvalidWasm

from . import abi
from .compiler import Compiled
from .validate import check_module

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
    received: int = 0
    rejected_messages: int = 0
    orders: int = 0
    denied: int = 0
    fills: int = 0
    logs: list[str] = field(default_factory=list)

    def log(self, line: str) -> None:
        self.logs.append(line)
        del self.logs[:-200]


class Instance:
    """One algo instance on one edge."""

    def __init__(self, compiled: Compiled, name: str,
                 send: Callable[[str, bytes], int] | None = None,
                 set_timer: Callable[[int, int], None] | None = None, fuel: int = DEFAULT_FUEL,
                 memory_limit: int = DEFAULT_MEMORY, instrument: bytes = bytes(abi.INSTRUMENT.size)) -> None:
        self.name = name
        self.fuel = fuel
        self.stats = Stats()
        self.stopped: str | None = None  # the reason, once stopped
        self._send = send
        self._set_timer = set_timer
        self._instrument = instrument
        self.timers: set[int] = set()  # pending timer ids (the embedder clears one when it fires)
        self.tier = compiled.tier
        module = compiled.module
        self.store = wasmtime.Store(compiled.engine)
        self.store.set_limits(memory_size=memory_limit)
        linker = wasmtime.Linker(compiled.engine)
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        linker.define_func("seqmesh", "log", wasmtime.FuncType([i32, i32, i32], []), self._log, access_caller=True)
        linker.define_func("seqmesh", "now_ns", wasmtime.FuncType([], [i64]), time.time_ns)
        linker.define_func("seqmesh", "send", wasmtime.FuncType([i32, i32, i32, i32], [i32]), self._send_msg,
                           access_caller=True)
        linker.define_func("seqmesh", "set_timer", wasmtime.FuncType([i32, i32], [i32]), self._timer)
        linker.define_func("seqmesh", "instrument", wasmtime.FuncType([i32], [i32]), self._write_instrument,
                           access_caller=True)
        try:
            check_module(module)
        except InvalidWasm as exc:
            raise AbiViolation(str(exc)) from None
        self.store.set_fuel(fuel)
        try:
            self.instance = linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise AbiViolation(f"cannot instantiate: {exc}") from None
        exports = self.instance.exports(self.store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)  # check_module made sure of the kinds and signatures
        self.memory = memory
        self.exports: dict[str, wasmtime.Func] = {}
        for name in abi.SIGNATURES:
            func = exports.get(name)
            if isinstance(func, wasmtime.Func):
                self.exports[name] = func
        version = self._call_slow("seqmesh_abi_version")
        if version != abi.ABI_VERSION:
            raise AbiViolation(f"guest speaks ABI {version}, this edge speaks {abi.ABI_VERSION}")
        self.book_ptr = int(self._call_slow("book_ptr"))
        self.actions_ptr = int(self._call_slow("actions_ptr"))
        self._check_region(self.book_ptr, abi.BOOK_SIZE)
        self._check_region(self.actions_ptr, abi.MAX_ACTIONS * abi.ACTION.size)
        self.event_ptr = 0
        if "event_ptr" in self.exports:
            self.event_ptr = int(self._call_slow("event_ptr"))
            self._check_region(self.event_ptr, abi.EVENT_SIZE)
        # The hot path's preallocated pieces: raw argument/result slots, trap slot, context, handles.
        self._raw = (ffi.wasmtime_val_raw_t * 6)()
        self._ctx = self.store._context()
        self._refs = {name: ctypes.byref(func._func) for name, func in self.exports.items()}
        self._func_ref = self._refs["on_book"]
        # Linear memories never move (Config.memory_may_move is off), so one view over the fixed
        # regions serves every call: no C call to find the base, no copy to read the actions.
        span = max(self.book_ptr + abi.BOOK_SIZE, self.actions_ptr + abi.MAX_ACTIONS * abi.ACTION.size,
                   self.event_ptr + abi.EVENT_SIZE if self.event_ptr else 0)
        base = ctypes.addressof(_memory_data(self._ctx, ctypes.byref(self.memory._memory)).contents)
        self._view = memoryview((ctypes.c_ubyte * span).from_address(base)).cast("B")
        self._level = 0  # fuel in the store, as last read
        self._half = fuel // 2
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
        self.stats.log(f"{_LEVELS.get(level, level)}: {text}")

    def _send_msg(self, caller: Any, label_ptr: int, label_len: int, ptr: int, length: int) -> int:
        if length > abi.MAX_MESSAGE or label_len > abi.MAX_LABEL or length < 0 or label_len < 0:
            self.stats.rejected_messages += 1
            return abi.E_TOO_LARGE
        label = self._read(caller, label_ptr, label_len).decode(errors="replace")
        payload = self._read(caller, ptr, length)
        if self._send is None:
            return abi.E_NO_ROUTE
        code = self._send(label, payload)
        if code == abi.OK:
            self.stats.messages += 1
        return code

    def _write_instrument(self, caller: Any, ptr: int) -> int:
        mem = caller["memory"]
        if ptr <= 0 or ptr + len(self._instrument) > mem.data_len(caller):
            return abi.E_BAD_POINTER
        mem.write(caller, self._instrument, ptr)
        return abi.OK

    def _timer(self, timer_id: int, after_ms: int) -> int:
        if not 1 <= after_ms <= abi.MAX_TIMER_MS:
            return abi.E_INVALID
        if timer_id not in self.timers and len(self.timers) >= abi.MAX_TIMERS:
            return abi.E_LIMIT
        self.timers.add(timer_id)
        if self._set_timer is not None:
            self._set_timer(timer_id, after_ms)
        return abi.OK

    # -- calls -----------------------------------------------------------------------------

    def _check_region(self, ptr: int, size: int) -> None:
        if ptr <= 0 or ptr + size > self.memory.data_len(self.store):
            raise AbiViolation(f"guest region [{ptr}, {ptr + size}) is outside its memory")

    def _stop(self, reason: str) -> None:
        self.stopped = reason
        self.stats.traps += 1

    def _call_slow(self, name: str, *args: Any) -> Any:
        self.store.set_fuel(self.fuel)
        try:
            return self.exports[name](self.store, *args)
        finally:
            left = self.store.get_fuel()
            self.stats.fuel_used += self.fuel - left
            self._level = left

    def on_book(self, book: bytes) -> list[abi.Action]:
        """The hot path: write the book, call on_book, read the actions it returned."""
        if self.stopped:
            return []
        bp = self.book_ptr
        self._view[bp:bp + abi.BOOK_SIZE] = book
        self._raw[0].i32 = bp
        return self._raw_call(self._func_ref, "on_book")

    def on_event(self, export: str, payload: bytes) -> list[abi.Action]:
        """on_nbbo, on_fill or on_message: the payload goes to event_ptr; absent export = ignored."""
        ref = self._refs.get(export)
        if self.stopped or ref is None:
            return []
        if len(payload) > abi.EVENT_SIZE:
            raise ValueError(f"{export} payload of {len(payload)} bytes exceeds {abi.EVENT_SIZE}")
        ep = self.event_ptr
        self._view[ep:ep + len(payload)] = payload
        self._raw[0].i32 = ep
        return self._raw_call(ref, export)

    def on_timer(self, timer_id: int) -> list[abi.Action]:
        self.timers.discard(timer_id)
        ref = self._refs.get("on_timer")
        if self.stopped or ref is None:
            return []
        self._raw[0].i32 = timer_id
        return self._raw_call(ref, "on_timer")

    def start(self, params: dict[str, str]) -> list[abi.Action]:
        """on_start with the parameters as sorted `key=value` lines in a region from alloc."""
        ref = self._refs.get("on_start")
        if self.stopped or ref is None:
            return []
        text = abi.encode_params(params)
        ptr = 0
        if text:
            try:
                ptr = int(self._call_slow("alloc", len(text)))
                self._check_region(ptr, len(text))
            except (wasmtime.Trap, wasmtime.WasmtimeError, AbiViolation) as exc:
                self._stop(_reason(exc))
                return []
            self.memory.write(self.store, text, ptr)
        self._raw[0].i32 = ptr
        self._raw[1].i32 = len(text)
        return self._raw_call(ref, "on_start")

    def _raw_call(self, ref: Any, name: str) -> list[abi.Action]:
        """Call an export whose arguments are already in the raw slots; decode its actions.

        Fuel is topped up only when less than half the budget is left (one C call saved per
        call): each call may burn between half and all of `fuel` before it is stopped."""
        ctx = self._ctx
        raw = self._raw
        self.stats.calls += 1
        if self._level < self._half:
            _set_fuel(ctx, self.fuel)
            self._level = self.fuel
        error = _call_unchecked(ctx, ref, raw, 6, self._trap_ref)
        _get_fuel(ctx, self._fuel_ref)
        left = self._fuel_left.value
        self.stats.fuel_used += self._level - left
        self._level = left
        trap = self._trap
        if error or trap:
            exc: Exception = wasmtime.WasmtimeError._from_ptr(error) if error else wasmtime.Trap._from_ptr(trap)
            self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
            self._trap_ref = ctypes.byref(self._trap)
            self._stop(_reason(exc))
            return []
        count = raw[0].i32
        if count == 0:
            return []
        if not 0 < count <= abi.MAX_ACTIONS:
            self._stop(f"ABI violation: {name} returned {count} actions (0..{abi.MAX_ACTIONS})")
            return []
        ap = self.actions_ptr
        return [abi.Action(k, s, t, tag, p, q)
                for k, s, t, _, tag, p, q, _r in _ACTIONS.iter_unpack(self._view[ap:ap + count * _ACTION_SIZE])]


_ACTIONS = abi.ACTION
_ACTION_SIZE = abi.ACTION.size
_LEVELS = {0: "debug", 1: "info", 2: "warn", 3: "error"}


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "fuel" in text:
        return "fuel exhausted: the call ran too long (runaway loop?)"
    if "memory" in text and ("limit" in text or "grow" in text):
        return f"memory limit: {text.splitlines()[0]}"
    return f"trap: {text.splitlines()[0] if text else type(exc).__name__}"
