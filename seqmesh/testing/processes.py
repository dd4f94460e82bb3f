"""Start seqmesh commands as real child processes and wait until they say they are ready."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from seqmesh.common.children import die_with_parent


class Proc:
    """A child process whose output is captured (last lines kept for failure messages)."""

    def __init__(self, args: list[str], ready: str, timeout: float = 30.0, log_path: Path | None = None,
                 env: dict[str, str] | None = None, wait: bool = True) -> None:
        """Start `args`; unless `wait` is false (the caller starts others meanwhile, then calls
        wait_ready), return once a line matches `ready`, within `timeout` seconds."""
        self.args = args
        self.timeout = timeout
        self.lines: deque[str] = deque(maxlen=400)
        if log_path:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "a") if log_path else None  # noqa: SIM115 - lives as long as the process
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        # The death signal follows the starting *thread*: only the main thread lives as long as
        # the process, so a helper thread's children are left to its own clean-up.
        main = threading.current_thread() is threading.main_thread()
        self.popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=full_env, start_new_session=True,
                                      preexec_fn=die_with_parent() if main else None)
        self._ready = threading.Event()
        self._pattern = re.compile(ready)
        self.match: re.Match[str] | None = None
        threading.Thread(target=self._pump, daemon=True).start()
        if wait:
            self.wait_ready()

    def wait_ready(self) -> re.Match[str]:
        """The ready line's match, once printed; killed and raising if it is not within the timeout."""
        if not self._ready.wait(self.timeout):
            self.kill()
            raise RuntimeError(f"{' '.join(self.args)} not ready in {self.timeout}s; output:\n" + "\n".join(self.lines))
        if self.match is None:
            raise RuntimeError(f"{' '.join(self.args)} exited ({self.popen.poll()}); output:\n" + "\n".join(self.lines))
        return self.match

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip())
            if self.log:
                self.log.write(line)
                self.log.flush()
            if self.match is None:
                m = self._pattern.search(line)
                if m:
                    self.match = m
                    self._ready.set()
        self._ready.set()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up runs, as in a crash."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 10.0) -> int:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


def seqmesh(*args: str, ready: str, timeout: float = 30.0, log_path: Path | None = None, wait: bool = True) -> Proc:
    return Proc([sys.executable, "-m", "seqmesh", *args], ready, timeout, log_path, wait=wait)


def wait_until(predicate: object, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    """Poll `predicate` (a callable) until it is truthy; bounded, raising with `what` on timeout."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
