"""A flow that steps on a timer in a thread (the V2 and V3 traders alike): `start()` funds the
traders and steps every `interval` seconds until `stop()`; a failed step is logged and counted,
and the flow goes on, as the CEX simulator's does."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class TimedFlow:
    interval: float

    def __init__(self, interval: float, name: str) -> None:
        self.interval = interval
        self.name = name
        self.steps = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fund(self) -> None:
        raise NotImplementedError

    def step(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        """Steps every `interval` seconds in a thread until `stop()`."""
        if self._thread is not None:
            raise RuntimeError("the flow is already running")
        self.fund()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as e:  # a peer node gone or a revert: the flow goes on
                self.failures += 1
                log.warning("%s step %d failed: %s", self.name, self.steps, e)
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 30.0) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout)
