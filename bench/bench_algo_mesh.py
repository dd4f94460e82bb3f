"""Algo mesh message latency, edge -> CC -> edge in one region (goal p50 <= 300 us): two instances
of one algo (seqmesh.testing.guests.pinger), each sending a small message every 2 ms; the receiving edge measures
from the sender's host timestamp. Baselines in the same run: two bare grpc.aio stream hops
between two processes, and the CC's unary gRPC round trip to its edges; the region and the bare
hops again with grpcio's default endpoint settings (seqmesh.common.grpc_core explains ours)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.client.api import CCClient
from seqmesh.common.grpc_core import CLASSIC_ENDPOINTS
from seqmesh.testing.guests import pinger
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

ECHO_SERVER = """
import struct, sys, time
import grpc, uvloop

async def echo(requests, context):
    async for m in requests:
        yield struct.pack("<q", time.time_ns() - struct.unpack("<q", m)[0])

async def main():
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"E": grpc.stream_stream_rpc_method_handler(echo)})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
    await server.start()
    await server.wait_for_termination()

uvloop.run(main())
"""

ECHO_CLIENT = """
import asyncio, statistics, struct, sys, time
import grpc, uvloop

async def client():
    async with grpc.aio.insecure_channel("127.0.0.1:" + sys.argv[1]) as channel:
        await asyncio.wait_for(channel.channel_ready(), 20)
        call = channel.stream_stream("/bench.Echo/E")()
        out = []
        for _ in range(int(sys.argv[2])):
            await call.write(struct.pack("<q", time.time_ns()))
            out.append(struct.unpack("<q", await call.read())[0])
            await asyncio.sleep(0.001)  # each message wakes an idle loop, as a mesh message does
        await call.done_writing()
        return out

print(statistics.median(uvloop.run(client())) / 1000)
"""


def bare_stream_one_way_us(experiments: str, samples: int = 1500) -> float:
    """One-way latency of a bare grpc.aio stream message between two processes (p50, us), with
    `GRPC_EXPERIMENTS` set to `experiments` in both."""
    from seqmesh.runtime.launcher.ready import free_port

    port = free_port()
    env = {**os.environ, "GRPC_EXPERIMENTS": experiments}
    server = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(port)], env=env)
    try:
        out = subprocess.run([sys.executable, "-c", ECHO_CLIENT, str(port), str(samples)], env=env, check=True,
                             capture_output=True, text=True, timeout=120).stdout
        return float(out.strip())
    finally:
        server.terminate()
        server.wait(10)


VENUES = {"binance": ("0", "0.0008", "0.001"), "okx": ("0", "0.0010", "0.0011")}


def mesh(seconds: float, grpc_experiments: str | None) -> dict[str, Any]:
    """Message latency in a region whose processes run with `GRPC_EXPERIMENTS` as given (None:
    seqmesh's own setting, seqmesh.common.grpc_core)."""
    saved = os.environ.pop("GRPC_EXPERIMENTS", None)
    if grpc_experiments is not None:
        os.environ["GRPC_EXPERIMENTS"] = grpc_experiments
    try:
        with tempfile.TemporaryDirectory() as tmp:
            region = Region(Path(tmp), VENUES)
            try:
                with CCClient(region.api) as c:
                    wait_until(lambda: all(e["connected"] for e in c.edges()), 30, what="edges")
                    c.deploy_algo("chatter", pinger(2), "BTC/USDT", list(VENUES), start=True)
                    wait_until(lambda: all(e["received"] > 100 for e in c.algo("chatter")["edges"]), 30,
                               what="traffic")
                    rtts = []
                    deadline = time.monotonic() + seconds
                    while time.monotonic() < deadline:
                        rtts += [e["latency_ms"] * 1000 for e in c.edges() if e.get("latency_ms")]
                        time.sleep(0.5)
                    edges = c.algo("chatter")["edges"]
            finally:
                region.stop()
    finally:
        os.environ.pop("GRPC_EXPERIMENTS", None)
        if saved is not None:
            os.environ["GRPC_EXPERIMENTS"] = saved
    return {"p50": statistics.median(e["message_latency_us"]["p50"] for e in edges),
            "p99": max(e["message_latency_us"]["p99"] for e in edges),
            "received": sum(e["received"] for e in edges), "rtt": statistics.median(rtts) if rtts else 0.0}


def run(seconds: float = 6.0) -> dict[str, Any]:
    ours, stock = mesh(seconds, None), mesh(seconds, "")
    floor = 2 * bare_stream_one_way_us(CLASSIC_ENDPOINTS)
    stock_floor = 2 * bare_stream_one_way_us("")
    return {
        "message_latency_p50_us": round(ours["p50"], 1), "message_latency_p99_us": round(ours["p99"], 1),
        "messages_received": ours["received"],
        "baseline_cc_edge_grpc_rtt_p50_us": round(ours["rtt"], 1),
        "ratio_vs_one_rtt": round(ours["p50"] / ours["rtt"], 2) if ours["rtt"] else None,
        "baseline_two_bare_grpc_stream_hops_us": round(floor, 1),
        "ratio_vs_two_bare_hops": round(ours["p50"] / floor, 2),
        "grpc_defaults": {  # the same region and hops with grpcio's own endpoint settings
            "message_latency_p50_us": round(stock["p50"], 1),
            "two_bare_grpc_stream_hops_us": round(stock_floor, 1),
            "ratio_ours_vs_defaults": round(ours["p50"] / stock["p50"], 2)},
        "goal_p50_us": 300,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
