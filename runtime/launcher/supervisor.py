"""Child processes of `seqmesh up`: started in order, watched, stopped cleanly together."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seqmesh.common.children import die_with_parent


@dataclass
class Child:
    name: str
    args: list[str]
    ready: str
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    match: re.Match[str] | None = None
    _pump: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    async def start(self, name: str, args: list[str], ready: str, timeout: float = 60.0,
                    env: dict[str, str] | None = None) -> re.Match[str]:
        """Start `python -m seqmesh ARGS` (with `env` added) and wait for the line matching `ready`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child = Child(name, args, ready, self.log_dir / f"{name}.log")
        child.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "seqmesh", *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            preexec_fn=die_with_parent(),  # no simulator, edge or CC outlives a killed `seqmesh up`
        )
        self.children.append(child)
        found: asyncio.Future[re.Match[str]] = asyncio.get_running_loop().create_future()
        child._pump = asyncio.create_task(self._pump(child, re.compile(ready), found))
        try:
            child.match = await asyncio.wait_for(found, timeout)
        except (TimeoutError, EOFError) as exc:
            tail = child.log_path.read_text()[-2000:] if child.log_path.exists() else ""
            raise RuntimeError(f"{name} did not start ({exc or 'timeout'}); its log ends:\n{tail}") from None
        return child.match

    async def _pump(self, child: Child, pattern: re.Pattern[str], found: asyncio.Future[re.Match[str]]) -> None:
        assert child.process is not None and child.process.stdout is not None
        with open(child.log_path, "ab") as log:  # noqa: ASYNC230 - a local log file, opened once
            async for line in child.process.stdout:
                log.write(line)
                log.flush()
                if not found.done():
                    m = pattern.search(line.decode(errors="replace"))
                    if m:
                        found.set_result(m)
        if not found.done():
            found.set_exception(EOFError(f"{child.name} exited with {await child.process.wait()}"))

    def failed(self) -> list[str]:
        return [c.name for c in self.children if c.process is not None and c.process.returncode is not None]

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM in reverse start order, SIGKILL whatever is left after `timeout`."""
        for child in reversed(self.children):
            proc = child.process
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    await proc.wait()
            if child._pump is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await child._pump
