"""The wasmtime host (compiling is `compiler.py`): run each guest call under a fuel budget
and a memory limit, and stop an instance that traps, runs away or breaks the ABI — never the edge.

The hot path (`on_book`) avoids wasmtime-py's generic call wrapper: the book is copied
straight into guest memory through a memoryview over the instance's fixed regions, the export
is called through `wasmtime_func_call_unchecked` with a preallocated raw value array (exports'
signatures are checked at instantiation, wasmtime is pinned to 50.x), and the actions are
unpacked from the same view.

The host imports (`send`, `set_timer`, `log`, ...) avoid it too, the other way round: each is
defined through `wasmtime_linker_define_func_unchecked`, so wasmtime hands the callback its
raw argument slots and the guest's memory is read at its fixed base, instead of wasmtime-py
building a caller object, converting every value and looking the memory export up by name
(measured: a `send` + `set_timer` from `on_timer` took 49 µs that way).
"""

from __future__ import annotations

import ctypes
import itertools
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import _bindings
from wasmtime import _ffi as ffi

from seqmesh.common.wasmfile import InvalidWasm

from . import abi, public_abi
from .compiler import Compiled
from .validate import IMPORTS, abi_of, check_module

_memory_data = _bindings._wasmtime_memory_data
_memory_size = _bindings._wasmtime_memory_data_size
_define_unchecked = _bindings._wasmtime_linker_define_func_unchecked
_trap_new = _bindings._wasmtime_trap_new
_set_fuel = _bindings._wasmtime_context_set_fuel
_get_fuel = _bindings._wasmtime_context_get_fuel
_call_unchecked = _bindings._wasmtime_func_call_unchecked

DEFAULT_FUEL = 5_000_000  # per call: generous for real work, fatal for a runaway loop
DEFAULT_MEMORY = 32 << 20  # bytes of linear memory an instance may grow to


class AbiViolation(Exception):
    pass


Slots = Any  # ctypes array of wasmtime_val_raw_t: the arguments in, the result out at [0]
HostFn = Callable[["Instance", Slots], None]

#: env id -> (the instance, weakly; the import; its name). One C thunk serves every import of
#: every instance (as in wasmtime-py), so nothing wasmtime holds can outlive its callback; the
#: entry goes when wasmtime drops the function (with the store), and being weak it does not
#: keep the instance, and so its store, alive.
_REGISTERED: dict[int, tuple[weakref.ref[Instance], HostFn, str]] = {}
_ids = itertools.count(1)


def _dispatch(env: int | None, caller: Any, slots: Slots, count: int) -> int:
    entry = _REGISTERED.get(env or 0)
    instance = entry[0]() if entry is not None else None
    if entry is None or instance is None:
        return _trap("host error: an import of an instance that is gone")
    fn, where = entry[1], entry[2]
    try:
        fn(instance, slots)
        return 0
    except Exception as exc:  # nothing may unwind through the guest's frames
        if isinstance(exc, AbiViolation):
            return _trap(f"ABI violation: {where}: {exc}")
        return _trap(f"host error in {where}: {type(exc).__name__}: {exc}")


def _trap(text: str) -> int:
    msg = text.encode()
    return ctypes.cast(_trap_new(msg, len(msg)), ctypes.c_void_p).value or 0


def _forget(env: int | None) -> None:
    _REGISTERED.pop(env or 0, None)


_DISPATCH = ffi.wasmtime_func_unchecked_callback_t(_dispatch)
_FORGET = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_forget)


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
    """One algo instance on one edge, speaking seqmesh's ABI or the public SDK's (`abi_kind`), chosen by
    the module's exports. The public ABI's regions and callbacks are `public_guest.PublicGuest`'s; the
    store, limits, imports and containment are this class's for both."""

    def __init__(self, compiled: Compiled, name: str,
                 send: Callable[[str, bytes], int] | None = None,
                 set_timer: Callable[[int, int], None] | None = None, fuel: int = DEFAULT_FUEL,
                 memory_limit: int = DEFAULT_MEMORY, instrument: bytes = bytes(abi.INSTRUMENT.size),
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.name = name
        self._clock_ns = clock_ns  # what `now_ns` answers: the wall clock, or a backtest's replayed time
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
        self.abi_kind = abi_of(module)
        #: public ABI: the labels of the mesh ids `__seq_send` may name (the guest's mesh table)
        self.peer_labels: dict[int, str] = {}
        if self.abi_kind == "public":
            for import_name, fn in _PUBLIC_FUNCTIONS.items():
                self._import(linker, public_abi.IMPORT_MODULE, import_name, fn, public_abi.IMPORTS[import_name])
        else:
            for import_name, fn in _HOST_FUNCTIONS.items():  # signatures: validate.IMPORTS, checked per module
                self._import(linker, "seqmesh", import_name, fn, IMPORTS[import_name])
        self._base = 0  # where the guest's memory starts, once instantiated (it never moves)
        self._mem_ref: Any = None
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
        self._ctx = self.store._context()
        self._mem_ref = ctypes.byref(self.memory._memory)
        self._base = ctypes.addressof(_memory_data(self._ctx, self._mem_ref).contents)
        self.exports: dict[str, wasmtime.Func] = {}
        #: export -> (argument positions that are i64, whether it returns a value); absent: all i32, one result
        self._shapes: dict[str, tuple[frozenset[int], bool]] = {}
        self._raw = (ffi.wasmtime_val_raw_t * 6)()
        self._level = 0  # fuel in the store, as last read
        self._half = fuel // 2
        self._fuel_left = ctypes.c_uint64()
        self._fuel_ref = ctypes.byref(self._fuel_left)
        self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
        self._trap_ref = ctypes.byref(self._trap)
        if self.abi_kind == "public":
            self._bind_public(exports)
            return
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
        # The hot path's preallocated pieces: function handles, a view over the regions.
        self._refs = {name: ctypes.byref(func._func) for name, func in self.exports.items()}
        self._func_ref = self._refs["on_book"]
        # Linear memories never move (Config.memory_may_move is off), so one view over the fixed
        # regions serves every call: no C call to find the base, no copy to read the actions.
        span = max(self.book_ptr + abi.BOOK_SIZE, self.actions_ptr + abi.MAX_ACTIONS * abi.ACTION.size,
                   self.event_ptr + abi.EVENT_SIZE if self.event_ptr else 0)
        self._view = memoryview((ctypes.c_ubyte * span).from_address(self._base)).cast("B")

    def _bind_public(self, exports: Any) -> None:
        """The public ABI's exports and a view from 0 to its fixed tables (the guest's own regions
        come from `algo_alloc`, asked by PublicGuest)."""
        for name in public_abi.EXPORTS:
            func = exports.get(name)
            if isinstance(func, wasmtime.Func):
                self.exports[name] = func
        self._refs = {name: ctypes.byref(func._func) for name, func in self.exports.items()}
        self._shapes = {name: (frozenset(i for i, t in enumerate(params) if t == "i64"), bool(results))
                        for name, (params, results) in public_abi.EXPORTS.items()}
        if self.memory.data_len(self.store) < public_abi.FIXED_END:
            self.memory.grow(self.store, -(-(public_abi.FIXED_END - self.memory.data_len(self.store)) // 65536))
        self._view = memoryview((ctypes.c_ubyte * self.memory.data_len(self.store)).from_address(self._base)).cast("B")

    # -- host imports ----------------------------------------------------------------------

    def _import(self, linker: wasmtime.Linker, module: str, name: str, fn: HostFn,
                signature: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        """Define `<module>.<name>` with wasmtime's raw interface. An AbiViolation (or a host bug)
        in `fn` becomes a trap carrying its message, which stops the instance with that reason."""
        env = next(_ids)
        _REGISTERED[env] = (weakref.ref(self), fn, f"{module}.{name}")
        module_name, func_name = module.encode(), name.encode()
        params, results = signature
        ty = wasmtime.FuncType([_VALTYPES[t]() for t in params], [_VALTYPES[t]() for t in results])  # held: borrowed
        error = _define_unchecked(linker.ptr(), ctypes.create_string_buffer(module_name), len(module_name),
                                  ctypes.create_string_buffer(func_name), len(func_name), ty.ptr(), _DISPATCH,
                                  env, _FORGET)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)

    def _read(self, ptr: int, length: int) -> bytes:
        if not self._base:
            raise AbiViolation("called before instantiation finished (from a start function)")
        if ptr < 0 or length < 0 or ptr + length > _memory_size(self._ctx, self._mem_ref):
            raise AbiViolation("pointer outside guest memory")
        return ctypes.string_at(self._base + ptr, length)

    def _log(self, slots: Slots) -> None:
        text = self._read(slots[1].i32, min(slots[2].i32, 4096)).decode(errors="replace")
        level = slots[0].i32
        self.stats.log(f"{_LEVELS.get(level, level)}: {text}")

    def _now(self, slots: Slots) -> None:
        slots[0].i64 = self._clock_ns()

    def _send_msg(self, slots: Slots) -> None:
        label_ptr, label_len, ptr, length = slots[0].i32, slots[1].i32, slots[2].i32, slots[3].i32
        slots[0].i32 = self._send_code(label_ptr, label_len, ptr, length)

    def _send_code(self, label_ptr: int, label_len: int, ptr: int, length: int, to: str | None = None) -> int:
        if length > abi.MAX_MESSAGE or label_len > abi.MAX_LABEL or length < 0 or label_len < 0:
            self.stats.rejected_messages += 1
            return abi.E_TOO_LARGE
        label = to if to is not None else self._read(label_ptr, label_len).decode(errors="replace")
        payload = self._read(ptr, length)
        if self._send is None:
            return abi.E_NO_ROUTE
        code = self._send(label, payload)
        if code == abi.OK:
            self.stats.messages += 1
        return code

    def _public_log(self, slots: Slots) -> None:
        text = self._read(slots[1].i32, min(slots[2].i32, 4096)).decode(errors="replace")
        level = slots[0].i32
        self.stats.log(f"{public_abi.LOG_LEVELS.get(level, level)}: {text}")

    def _public_send(self, slots: Slots) -> None:
        """`__seq_send(to, ptr, len)`: to the sibling the mesh id names; the SDK expects no status."""
        to, ptr, length = slots[0].i64 & 0xFFFF_FFFF_FFFF_FFFF, slots[1].i32, slots[2].i32
        label = self.peer_labels.get(to)
        if label is None:
            self.stats.rejected_messages += 1
            self.stats.log(f"warn: message to unknown mesh id {to} dropped")
            return
        if self._send_code(0, 0, ptr, length, label) != abi.OK:
            self.stats.log(f"warn: message to {label} not sent")

    def _write_instrument(self, slots: Slots) -> None:
        ptr, size = slots[0].i32, len(self._instrument)
        if not self._base or ptr <= 0 or ptr + size > _memory_size(self._ctx, self._mem_ref):
            slots[0].i32 = abi.E_BAD_POINTER
            return
        ctypes.memmove(self._base + ptr, self._instrument, size)
        slots[0].i32 = abi.OK

    def _timer(self, slots: Slots) -> None:
        slots[0].i32 = self._timer_code(slots[0].i32, slots[1].i32)

    def _timer_code(self, timer_id: int, after_ms: int) -> int:
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

    def call(self, name: str, *args: int) -> int | None:
        """Call an export by name with integer arguments (typed from its signature); its i32 result
        (0 for none), or None when the export is absent or the instance stopped (then with its reason)."""
        ref = self._refs.get(name)
        if self.stopped or ref is None:
            return None
        raw = self._raw
        wide, has_result = self._shapes.get(name, ((), True))
        for i, value in enumerate(args):
            if i in wide:
                raw[i].i64 = value - (1 << 64) if value >= 1 << 63 else value
            else:
                raw[i].i32 = value
        if not self._invoke(ref):
            return None
        return int(raw[0].i32) if has_result else 0

    def write(self, ptr: int, data: bytes) -> None:
        """Copy `data` into guest memory at `ptr` (a region the view covers: checked by the caller)."""
        self._view[ptr:ptr + len(data)] = data

    def read(self, ptr: int, length: int) -> bytes:
        """A copy of a guest region; AbiViolation when it is outside memory."""
        return self._read(ptr, length)

    def peek_u32(self, ptr: int) -> int:
        """The u32 at `ptr` (through the view when it covers it); AbiViolation when outside memory."""
        if ptr >= 0 and ptr + 4 <= len(self._view):
            return int.from_bytes(self._view[ptr:ptr + 4], "little")
        return int.from_bytes(self._read(ptr, 4), "little")

    def check_region(self, ptr: int, size: int) -> None:
        self._check_region(ptr, size)

    def stop(self, reason: str) -> None:
        """Stop the instance for a reason found outside a call (an ABI violation in what it returned)."""
        self._stop(reason)

    def _raw_call(self, ref: Any, name: str) -> list[abi.Action]:
        """Call an export whose arguments are already in the raw slots; decode its actions."""
        if not self._invoke(ref):
            return []
        raw = self._raw
        count = raw[0].i32
        if count == 0:
            return []
        if not 0 < count <= abi.MAX_ACTIONS:
            self._stop(f"ABI violation: {name} returned {count} actions (0..{abi.MAX_ACTIONS})")
            return []
        ap = self.actions_ptr
        return [abi.Action(k, s, t, tag, p, q)
                for k, s, t, _, tag, p, q, _r in _ACTIONS.iter_unpack(self._view[ap:ap + count * _ACTION_SIZE])]

    def _invoke(self, ref: Any) -> bool:
        """Call an export whose arguments are already in the raw slots: False if it trapped (then the
        instance is stopped with the reason).

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
            return False
        return True


#: The host side of each import in validate.IMPORTS.
_HOST_FUNCTIONS: dict[str, HostFn] = {"log": Instance._log, "now_ns": Instance._now, "send": Instance._send_msg,
                                      "set_timer": Instance._timer, "instrument": Instance._write_instrument}
_VALTYPES = {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64}
assert set(_HOST_FUNCTIONS) == set(IMPORTS)
#: The host side of the public SDK's imports (public_abi.IMPORTS).
_PUBLIC_FUNCTIONS: dict[str, HostFn] = {"host_log_impl": Instance._public_log, "__seq_send": Instance._public_send}
assert set(_PUBLIC_FUNCTIONS) == set(public_abi.IMPORTS)

_ACTIONS = abi.ACTION
_ACTION_SIZE = abi.ACTION.size
_LEVELS = {0: "debug", 1: "info", 2: "warn", 3: "error"}


def _reason(exc: BaseException) -> str:
    """The reason an instance stopped, from wasmtime's error: its cause, not the backtrace."""
    text = str(exc)
    head, _, cause = text.partition("Caused by:")
    lines = (cause or head).strip().splitlines()
    first = lines[0].strip() if lines else type(exc).__name__
    if "fuel" in text:
        return "fuel exhausted: the call ran too long (runaway loop?)"
    if "memory" in text and ("limit" in text or "grow" in text):
        return f"memory limit: {first}"
    if first.startswith(("ABI violation", "host error")):
        return first
    return f"trap: {first}"
