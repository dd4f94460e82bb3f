"""Small WebAssembly guests written in WAT, for tests and benchmarks of the algo plumbing."""

from __future__ import annotations

import wasmtime

_EXPORTS = """
  (memory (export "memory") 1)
  (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
  (func (export "book_ptr") (result i32) (i32.const 1024))
  (func (export "actions_ptr") (result i32) (i32.const 2048))
  (func (export "event_ptr") (result i32) (i32.const 3072))
  (func (export "alloc") (param i32) (result i32) (i32.const 8192))
  (func (export "on_book") (param i32) (result i32) (i32.const 0))
  (func (export "on_fill") (param i32) (result i32) (i32.const 0))
"""

#: Logs its parameters at start; sends an 8-byte "ping" every `period` ms from a timer; logs the
#: sender of every message it receives ("<region>/<venue>") and "nbbo" at its first NBBO.
def pinger(period_ms: int = 50) -> bytes:
    return bytes(wasmtime.wat2wasm(f"""(module
  (import "seqmesh" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "seqmesh" "log" (func $log (param i32 i32 i32)))
  (import "seqmesh" "set_timer" (func $timer (param i32 i32) (result i32)))
  {_EXPORTS}
  (data (i32.const 4000) "pingnbbo")
  (global $nbbo (mut i32) (i32.const 0))
  (func (export "on_start") (param $p i32) (param $n i32) (result i32)
    (call $log (i32.const 1) (local.get $p) (local.get $n))
    (drop (call $timer (i32.const 1) (i32.const {period_ms}))) (i32.const 0))
  (func (export "on_timer") (param i32) (result i32)
    (drop (call $send (i32.const 4000) (i32.const 4) (i32.const 4000) (i32.const 8)))
    (drop (call $timer (i32.const 1) (i32.const {period_ms}))) (i32.const 0))
  (func (export "on_message") (param $e i32) (result i32)
    (call $log (i32.const 1) (i32.add (local.get $e) (i32.const 8)) (i32.load16_u (local.get $e)))
    (i32.const 0))
  (func (export "on_nbbo") (param $e i32) (result i32)
    (if (i32.eqz (global.get $nbbo))
      (then (global.set $nbbo (i32.const 1)) (call $log (i32.const 1) (i32.const 4004) (i32.const 4))))
    (i32.const 0)))"""))


def bidder(qty_lots: int, once: bool = False, tag: int = 1, market: bool = False) -> bytes:
    """On a book with bids: a limit buy of `qty_lots` at the best bid, or a market buy (on the first
    such book only when `once`)."""
    guard = "(if (global.get $done) (then (return (i32.const 0)))) (global.set $done (i32.const 1))" if once else ""
    return bytes(wasmtime.wat2wasm(f"""(module
  (memory (export "memory") 1)
  (global $done (mut i32) (i32.const 0))
  (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
  (func (export "book_ptr") (result i32) (i32.const 1024))
  (func (export "actions_ptr") (result i32) (i32.const 2048))
  (func (export "on_book") (param $book i32) (result i32)
    (if (i32.eqz (i32.load offset=16 (local.get $book))) (then (return (i32.const 0))))
    {guard}
    (i32.store8 offset=0 (i32.const 2048) (i32.const 1))
    (i32.store8 offset=1 (i32.const 2048) (i32.const 1))
    (i32.store8 offset=2 (i32.const 2048) (i32.const {2 if market else 1}))
    (i32.store offset=4 (i32.const 2048) (i32.const {tag}))
    (i64.store offset=8 (i32.const 2048) (i64.load offset=24 (local.get $book)))
    (i64.store offset=16 (i32.const 2048) (i64.const {qty_lots}))
    (i32.const 1)))"""))


def rester(qty_lots: int = 100, below_pct: int = 10, every: int = 1) -> bytes:
    """On every `every`-th book with bids: cancel all its orders, then rest a limit buy of
    `qty_lots` `below_pct` % under the best bid (far from the market: it never fills), tagged with
    a running count from 1. An algo whose orders all end cancelled."""
    return bytes(wasmtime.wat2wasm(f"""(module
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (global $books (mut i32) (i32.const 0))
  (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
  (func (export "book_ptr") (result i32) (i32.const 1024))
  (func (export "actions_ptr") (result i32) (i32.const 2048))
  (func (export "event_ptr") (result i32) (i32.const 3072))
  (func (export "on_fill") (param i32) (result i32) (i32.const 0))
  (func (export "on_book") (param $book i32) (result i32)
    (if (i32.eqz (i32.load offset=16 (local.get $book))) (then (return (i32.const 0))))
    (global.set $books (i32.add (global.get $books) (i32.const 1)))
    (if (i32.rem_u (global.get $books) (i32.const {every})) (then (return (i32.const 0))))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.store8 offset=0 (i32.const 2048) (i32.const 3))
    (i32.store8 offset=32 (i32.const 2048) (i32.const 1))
    (i32.store8 offset=33 (i32.const 2048) (i32.const 1))
    (i32.store8 offset=34 (i32.const 2048) (i32.const 1))
    (i32.store offset=36 (i32.const 2048) (global.get $n))
    (i64.store offset=40 (i32.const 2048)
      (i64.div_u (i64.mul (i64.load offset=24 (local.get $book)) (i64.const {100 - below_pct})) (i64.const 100)))
    (i64.store offset=48 (i32.const 2048) (i64.const {qty_lots}))
    (i32.const 2)))"""))


def trapping_at_start() -> bytes:
    """Valid for the CC's upload check (exports, signatures, imports), but its start function
    traps as the edge instantiates it: an algo its edge refuses."""
    return bytes(wasmtime.wat2wasm(f"(module {_EXPORTS} (func $boom unreachable) (start $boom))"))
