"""What `seqmesh edge --record` costs the feed path: the same simulator frames through the edge's
real path (bench_frames: ccxt.pro's binance handler with the edge's tap, book and hub, one
subscriber queued as the CC's), without and with a recorder on the hub, alternated in one run.
The recorder's writer thread runs meanwhile, so its share of the GIL is in the figure; `drain`
is how long after the last frame the file was complete.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from seqmesh.runtime.edge.recorder import Recorder
from seqmesh.runtime.edge.recording import Header, Recording
from seqmesh.runtime.proto import edge_pb2 as pb

HERE = Path(__file__).resolve().parent


def _frames_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_frames", HERE / "bench_frames.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_once(frames_bench: Any, snapshot: str, frames: list[str], path: Path | None,
              ) -> tuple[float, float, float, float]:
    """Seconds: (wall for the frames, the feed thread's CPU for them, wall more until the recording
    was closed, the whole process's CPU for frames and recording)."""
    ex, feed = frames_bench._exchange(True)
    snap = json.loads(snapshot)
    book = ex.order_book({}, 1000)
    book.reset(ex.parse_order_book(snap, frames_bench.SYMBOL))
    book["nonce"] = snap["lastUpdateId"]
    book["timestamp"] = 1
    ex.orderbooks[frames_bench.SYMBOL] = book
    feed.on_snapshot(frames_bench.SYMBOL, snap["bids"], snap["asks"], 1, snap["lastUpdateId"])
    recorder = None
    if path is not None:
        info = pb.VenueInfo(venue="binance", instruments=[pb.Instrument(symbol=frames_bench.SYMBOL, tick="0.01",
                                                                        lot="0.00001")])
        recorder = Recorder(path, Header(time.time_ns(), info))
        recorder.start(feed.hub, feed.snapshots)
    client = frames_bench._Client()
    start, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
    for text in frames:
        ex.handle_message(client, json.loads(text))
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
    if recorder is not None:
        recorder.close()
    return elapsed, cpu, time.perf_counter() - start - elapsed, time.process_time() - process


def run(steps: int = 4000, repeats: int = 3) -> dict[str, Any]:
    fb = _frames_bench()
    snapshot, frames, levels = fb.record_frames(steps)
    plain, recorded = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):  # alternated: the machine's noise falls on both
            plain.append(_run_once(fb, snapshot, frames, None))
            path = Path(tmp) / f"r{i}.rec"
            recorded.append(_run_once(fb, snapshot, frames, path))
        size = path.stat().st_size
        with Recording(path) as rec:
            items = sum(1 for _ in rec.items())
    n = len(frames)

    def us(values: list[float]) -> float:
        return round(min(values) / n * 1e6, 2)

    wall, feed_cpu = us([r[0] for r in plain]), us([r[1] for r in plain])
    wall_rec, feed_cpu_rec = us([r[0] for r in recorded]), us([r[1] for r in recorded])
    writer_cpu = us([r[3] - r[1] for r in recorded])  # the rest of the process: the writer thread
    return {
        "frames": n, "deltas": levels,
        "feed_cpu_us_per_frame": feed_cpu, "feed_cpu_us_per_frame_recording": feed_cpu_rec,
        "feed_cpu_extra_pct": round((feed_cpu_rec / feed_cpu - 1) * 100, 1),
        "wall_us_per_frame": wall, "wall_us_per_frame_recording": wall_rec,
        "wall_extra_pct": round((wall_rec / wall - 1) * 100, 1),
        "writer_cpu_us_per_item": round(writer_cpu * n / items, 2),
        "drain_ms": round(min(r[2] for r in recorded) * 1000, 1),
        "recorded_items": items, "file_bytes": size, "bytes_per_item": round(size / items, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
