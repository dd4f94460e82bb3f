"""`seqmesh edge --record FILE`: the edge's market data written to a recording as it is published.

The recorder is one more subscriber of the edge's hub whose items go to a writer thread: the feed
path pays one deque append per item; serialising, compressing and writing happen in the thread.
The thread wakes on a clock (every `BATCH_S`) and takes what piled up, rather than on each item:
a thread woken per item trades the GIL with the event loop per item, which on a busy machine
cost the feed path half its speed (bench/bench_recording.py). BBO items are left out (a replay
derives them from the book).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from seqmesh.runtime.proto import edge_pb2 as pb

from .hub import MarketDataHub, Subscription
from .recording import Header, RecordingWriter

log = logging.getLogger(__name__)
FLUSH_S = 0.5  # a killed edge loses at most this much of its recording
BATCH_S = 0.05  # how often the writer takes what was published


class _Tap(Subscription):
    """A hub subscription feeding a thread: never full, never dropped."""

    def __init__(self) -> None:
        super().__init__(frozenset(), 1)
        self.items: deque[pb.MarketData] = deque()  # appends and pops are atomic: no lock
        self.stopped = False  # the writer failed: items are dropped (the hub's set is the loop's to change)

    def put(self, item: pb.MarketData) -> None:
        if not self.stopped and item.WhichOneof("item") != "bbo":
            self.items.append(item)


def free_path(path: Path) -> Path:
    """`path`, or if a recording is there already (an edge restarted), the first free `path.N`."""
    n, free = 0, path
    while free.exists():
        n += 1
        free = path.with_name(f"{path.name}.{n}")
    return free


class Recorder:
    def __init__(self, path: Path, header: Header) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = RecordingWriter(free_path(path), header)
        self._tap = _Tap()
        self._hub: MarketDataHub | None = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._write, name="recorder", daemon=True)
        self.error: BaseException | None = None

    def start(self, hub: MarketDataHub, snapshots: Callable[[], list[pb.MarketData]]) -> None:
        """Record from the current books on: their snapshots first, then every published item."""
        for item in snapshots():
            self._tap.put(item)
        hub.subscriptions.add(self._tap)
        self._hub = hub
        self._thread.start()
        log.info("recording market data to %s", self.writer.path)

    def close(self) -> None:
        if self._hub is not None:
            self._hub.unsubscribe(self._tap)
            self._closing.set()
            self._thread.join()
        else:
            self.writer.close()

    def _write(self) -> None:
        writer, items = self.writer, self._tap.items
        flushed = time.monotonic()
        try:
            while True:
                closing = self._closing.wait(BATCH_S)
                batch = [items.popleft() for _ in range(len(items))]
                if batch:
                    writer.write_items(batch)
                if closing:
                    break
                if time.monotonic() - flushed >= FLUSH_S:
                    writer.flush()
                    flushed = time.monotonic()
        except Exception as exc:  # a full disk: the edge trades on, the recording stops, loudly
            self.error = exc
            log.error("recording to %s stopped: %s", writer.path, exc)
            self._tap.stopped = True
            items.clear()
        finally:
            writer.close()
