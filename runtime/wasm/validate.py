"""Full validation of an algo binary without running it (the CC's upload check): header, size, that
it compiles, which ABI it speaks (seqmesh's v1, or the public SDK's: `public_abi.py`), its exports'
signatures and that it imports nothing else."""

from __future__ import annotations

import wasmtime

from seqmesh.common.wasmfile import InvalidWasm, check_header

from . import abi, public_abi
from .compiler import quick_compile

#: Host imports (module "seqmesh") and their (parameters, results) value types.
IMPORTS = {"log": (("i32",) * 3, ()), "now_ns": ((), ("i64",)), "send": (("i32",) * 4, ("i32",)),
           "set_timer": (("i32",) * 2, ("i32",)), "instrument": (("i32",), ("i32",))}


def validate(binary: bytes) -> list[str]:
    """The module's ABI exports, or InvalidWasm naming what is wrong."""
    check_header(binary)
    try:
        module = quick_compile(binary)
    except wasmtime.WasmtimeError as exc:
        raise InvalidWasm("DoesNotCompile", f"the module does not compile: {str(exc).splitlines()[0]}") from None
    exports = check_module(module)
    if abi_of(module) == "public":
        check_public_data(binary)
    return exports


def check_public_data(binary: bytes) -> None:
    """A public-SDK module's statics must not lie where the host writes the SDK's tables."""
    clash = public_abi.data_overlapping_tables(binary)
    if clash is not None:
        raise InvalidWasm("AbiViolation", f"data at {clash[0]:#x}..{clash[1]:#x} lies among the public SDK's tables "
                          f"({public_abi.VENUE_BOOKS_AT:#x}..{public_abi.FIXED_END:#x}): link with the stack first "
                          "(Rust's wasm32 default)")


def abi_of(module: wasmtime.Module) -> str:
    """"seqmesh" or "public", from the module's exports (the public SDK's are named `algo_*`)."""
    return "public" if public_abi.is_public([e.name for e in module.exports]) else "seqmesh"


def check_module(module: wasmtime.Module) -> list[str]:
    """A compiled module's imports and exports against its ABI (the CC on upload, the edge before it
    instantiates: the host's raw call path does not check types, so a wrong signature must not pass)."""
    if abi_of(module) == "public":
        return _check_public(module)
    for imp in module.imports:
        want = IMPORTS.get(imp.name or "") if imp.module == "seqmesh" else None
        got = _signature(imp.type)
        if want is None:
            raise InvalidWasm("UnknownImport", f"the module imports {imp.module}.{imp.name}, which the host "
                              f"does not provide (only seqmesh.{', seqmesh.'.join(IMPORTS)})")
        if got != want:
            raise InvalidWasm("AbiViolation", f"import seqmesh.{imp.name} has the wrong signature")
    exports = {e.name: e.type for e in module.exports}
    missing = [e for e in abi.REQUIRED_EXPORTS if e not in exports]
    if missing:
        raise InvalidWasm("AbiViolation", f"missing exports: {', '.join(missing)} (see docs/wasm-abi.md)")
    if not isinstance(exports["memory"], wasmtime.MemoryType):
        raise InvalidWasm("AbiViolation", "export 'memory' is not a linear memory")
    for name, (n_params, n_results) in abi.SIGNATURES.items():
        if name in exports and _signature(exports[name]) != (("i32",) * n_params, ("i32",) * n_results):
            raise InvalidWasm("AbiViolation", f"export {name!r} must take {n_params} i32 and return {n_results} i32")
    if any(e in exports for e in abi.EVENT_EXPORTS) and "event_ptr" not in exports:
        raise InvalidWasm("AbiViolation", "on_nbbo/on_fill/on_message need the export event_ptr")
    if "on_start" in exports and "alloc" not in exports:
        raise InvalidWasm("AbiViolation", "on_start needs the export alloc")
    return sorted(n for n in exports if n in abi.SIGNATURES)


def _signature(t: object) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if not isinstance(t, wasmtime.FuncType):
        return None
    return tuple(str(p) for p in t.params), tuple(str(r) for r in t.results)


def _check_public(module: wasmtime.Module) -> list[str]:
    for imp in module.imports:
        want = public_abi.IMPORTS.get(imp.name or "") if imp.module == public_abi.IMPORT_MODULE else None
        if want is None:
            raise InvalidWasm("UnknownImport", f"the module imports {imp.module}.{imp.name}, which the host does not "
                              f"provide to public-SDK algos (only env.{', env.'.join(public_abi.IMPORTS)})")
        if _signature(imp.type) != want:
            raise InvalidWasm("AbiViolation", f"import {imp.module}.{imp.name} has the wrong signature")
    exports = {e.name: e.type for e in module.exports}
    missing = [e for e in public_abi.REQUIRED_EXPORTS if e not in exports]
    if missing:
        raise InvalidWasm("AbiViolation", f"public-SDK module without {', '.join(missing)} (built with export_algo!?)")
    memory = exports["memory"]
    if not isinstance(memory, wasmtime.MemoryType):
        raise InvalidWasm("AbiViolation", "export 'memory' is not a linear memory")
    if memory.limits.max is not None and memory.limits.max * 65536 < public_abi.FIXED_END:
        raise InvalidWasm("AbiViolation",
                          f"memory cannot reach the public SDK's tables (up to {public_abi.FIXED_END:#x})")
    for name, want in public_abi.EXPORTS.items():
        if name in exports and _signature(exports[name]) != want:
            signature = f"({', '.join(want[0])}) -> ({', '.join(want[1])})"
            raise InvalidWasm("AbiViolation", f"export {name!r} must be {signature}")
    return sorted(n for n in exports if n in public_abi.EXPORTS)
