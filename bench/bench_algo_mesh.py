"""Algo mesh message latency, edge -> CC -> edge in one region (goal p50 <= 300 us): two instances
of one algo, each sending a small message every 2 ms from a timer; the receiving edge measures
from the sender's host timestamp. Baseline in the same run: the CC's unary gRPC round trip to
its edges (what one hop costs on this machine)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import wasmtime

from seqmesh.client.api import CCClient
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

CHATTER = """(module
  (import "seqmesh" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "seqmesh" "set_timer" (func $timer (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 4000) "tick0123")
  (func (export "seqmesh_abi_version") (result i32) (i32.const 1))
  (func (export "book_ptr") (result i32) (i32.const 1024))
  (func (export "actions_ptr") (result i32) (i32.const 2048))
  (func (export "event_ptr") (result i32) (i32.const 3072))
  (func (export "alloc") (param i32) (result i32) (i32.const 8192))
  (func (export "on_start") (param i32 i32) (result i32) (drop (call $timer (i32.const 1) (i32.const 5))) (i32.const 0))
  (func (export "on_timer") (param i32) (result i32)
    (drop (call $send (i32.const 4000) (i32.const 4) (i32.const 4000) (i32.const 8)))
    (drop (call $timer (i32.const 1) (i32.const 2))) (i32.const 0))
  (func (export "on_book") (param i32) (result i32) (i32.const 0))
  (func (export "on_message") (param i32) (result i32) (i32.const 0)))"""

VENUES = {"binance": ("0", "0.0008", "0.001"), "okx": ("0", "0.0010", "0.0011")}


def run(seconds: float = 6.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        region = Region(Path(tmp), VENUES)
        try:
            with CCClient(region.api) as c:
                wait_until(lambda: all(e["connected"] for e in c.edges()), 30, what="edges")
                c.deploy_algo("chatter", bytes(wasmtime.wat2wasm(CHATTER)), "BTC/USDT", list(VENUES), start=True)
                wait_until(lambda: all(e["received"] > 100 for e in c.algo("chatter")["edges"]), 30, what="traffic")
                rtts = []
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    rtts += [e["latency_ms"] * 1000 for e in c.edges() if e.get("latency_ms")]
                    time.sleep(0.5)
                edges = c.algo("chatter")["edges"]
        finally:
            region.stop()
    p50 = statistics.median(e["message_latency_us"]["p50"] for e in edges)
    p99 = max(e["message_latency_us"]["p99"] for e in edges)
    rtt = statistics.median(rtts) if rtts else 0.0
    return {
        "message_latency_p50_us": round(p50, 1), "message_latency_p99_us": round(p99, 1),
        "messages_received": sum(e["received"] for e in edges),
        "baseline_cc_edge_grpc_rtt_p50_us": round(rtt, 1),
        "ratio_vs_one_rtt": round(p50 / rtt, 2) if rtt else None,
        "goal_p50_us": 300,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
