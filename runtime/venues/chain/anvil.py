"""One anvil (a real EVM node) per chain, on loopback, as a child process that dies with us.

Started with the chain's id and either its block interval (interval mining, as the real chain
produces blocks) or automine (a block per transaction, for tests where timing does not matter).
Ready when `eth_chainId` answers with the chain's id. anvil picks a free port (`--port 0`) and
prints where it listens; a thread drains its output (it logs every block and transaction, so a
file would grow for as long as the chain runs) and keeps the last lines for error messages.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import requests
from seqmesh.runtime.dex.artifacts import BUILD_HINT, ToolingMissing, tools_dir
from seqmesh.runtime.dex.chains import ChainSpec
from web3 import HTTPProvider, Web3

from seqmesh.common.children import die_with_parent

_LISTENING = re.compile(r"Listening on (\S+):(\d+)")
KEPT_LINES = 200


def connect(url: str, timeout: float = 10.0) -> Web3:
    """A web3 client of a loopback node: no proxy from the environment may stand in between."""
    session = requests.Session()
    session.trust_env = False
    return Web3(HTTPProvider(url, session=session, request_kwargs={"timeout": timeout}))


def anvil_binary(directory: Path | None = None) -> Path:
    path = (directory or tools_dir()) / "bin" / "anvil"  # the binary itself, not npm's Node wrapper
    if not os.access(path, os.X_OK):
        raise ToolingMissing(f"anvil not found at {path}: {BUILD_HINT}")
    return path


class AnvilError(RuntimeError):
    """anvil did not start, or is not the chain it was asked to be."""


class Anvil:
    """A running anvil for `spec`. `block_time=None` uses the chain's; `automine=True` mines per transaction."""

    def __init__(
        self,
        spec: ChainSpec,
        *,
        automine: bool = False,
        block_time: float | None = None,
        port: int = 0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if block_time is not None and block_time <= 0:
            raise ValueError(f"block_time must be positive seconds, got {block_time}")
        self.spec = spec
        self.automine = automine
        self.block_time = None if automine else (block_time if block_time is not None else spec.block_time)
        self.port = port
        self.extra_args = extra_args
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._w3: Web3 | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=KEPT_LINES)
        self._address: str | None = None
        self._drainer: threading.Thread | None = None

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            raise AnvilError(f"anvil for {self.spec.name} is not started")
        return self._w3

    def command(self) -> list[str]:
        args = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port),
                "--chain-id", str(self.spec.chain_id)]
        if self.block_time is not None:
            args += ["--block-time", repr(self.block_time)]
        return [*args, *self.extra_args]

    def recent_output(self) -> str:
        """anvil's last lines of output (its log), for diagnosis."""
        return "\n".join(self._output)

    def start(self, timeout: float = 20.0) -> Anvil:
        if self.process is not None:
            raise AnvilError(f"anvil for {self.spec.name} is already started")
        command = self.command()  # raises ToolingMissing before anything is spawned
        self._output.clear()
        self._address = None
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(), start_new_session=True,
        )
        assert self.process.stdout is not None
        self._drainer = threading.Thread(target=self._drain, args=(self.process.stdout,),
                                         name=f"anvil-{self.spec.name}-output", daemon=True)
        self._drainer.start()
        try:
            self._wait_ready(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            if self._address is None:
                found = _LISTENING.search(line)
                if found:
                    self._address = f"{found.group(1)}:{found.group(2)}"
            self._output.append(line)
        stream.close()

    def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self._drainer is not None:
                    self._drainer.join(1.0)
                raise AnvilError(f"anvil for {self.spec.name} exited with {self.process.returncode}: "
                                 f"{self.recent_output()}")
            if self._w3 is None and self._address is not None:
                self.url = f"http://{self._address}"
                self._w3 = connect(self.url)
            if self._w3 is not None:
                try:
                    chain_id = self._w3.eth.chain_id
                except (OSError, ValueError):  # not answering yet
                    chain_id = None
                if chain_id is not None:
                    if chain_id != self.spec.chain_id:
                        raise AnvilError(f"anvil at {self.url} answers chain id {chain_id}, "
                                         f"expected {self.spec.chain_id} ({self.spec.name})")
                    return
            time.sleep(0.05)
        raise AnvilError(f"anvil for {self.spec.name} did not answer eth_chainId within the timeout; "
                         f"output: {self.recent_output()}")

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        drainer, self._drainer = self._drainer, None
        if drainer is not None:
            drainer.join(timeout)  # the pipe closes with the process
        self._w3 = None

    def __enter__(self) -> Anvil:
        return self.start() if self.process is None else self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
