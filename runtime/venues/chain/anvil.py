"""One anvil (a real EVM node) per chain, on loopback, as a child process that dies with us.

Started with the chain's id and either its block interval (interval mining, as the real chain
produces blocks) or automine (a block per transaction, for tests where timing does not matter).
Ready when `eth_chainId` answers with the chain's id. anvil picks a free port (`--port 0`) and
logs where it listens; its output goes to a log file (a pipe nobody drains would stall it).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests
from web3 import HTTPProvider, Web3

from seqmesh.common.children import die_with_parent

from .artifacts import anvil_binary
from .chains import ChainSpec

_LISTENING = re.compile(r"Listening on (\S+):(\d+)")


def connect(url: str, timeout: float = 10.0) -> Web3:
    """A web3 client of a loopback node: no proxy from the environment may stand in between."""
    session = requests.Session()
    session.trust_env = False
    return Web3(HTTPProvider(url, session=session, request_kwargs={"timeout": timeout}))


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
        log_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if block_time is not None and block_time <= 0:
            raise ValueError(f"block_time must be positive seconds, got {block_time}")
        self.spec = spec
        self.automine = automine
        self.block_time = None if automine else (block_time if block_time is not None else spec.block_time)
        self.port = port
        self.extra_args = extra_args
        self._log_dir = log_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._w3: Web3 | None = None

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

    def start(self, timeout: float = 20.0) -> Anvil:
        if self.process is not None:
            raise AnvilError(f"anvil for {self.spec.name} is already started")
        command = self.command()  # raises ToolingMissing before anything is spawned
        log_dir = self._log_dir
        if log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"anvil-{self.spec.name}-")
            log_dir = Path(self._tmp.name)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"anvil-{self.spec.name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(), start_new_session=True,
            )
        try:
            self._wait_ready(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _log_text(self) -> str:
        assert self.log_path is not None
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        address: tuple[str, str] | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AnvilError(f"anvil for {self.spec.name} exited with {self.process.returncode}: "
                                 f"{self._log_text()[-2000:]}")
            if address is None:
                found = _LISTENING.search(self._log_text())
                if found:
                    address = (found.group(1), found.group(2))
                    self.url = f"http://{address[0]}:{address[1]}"
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
                         f"log: {self._log_text()[-2000:]}")

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._w3 = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Anvil:
        return self.start() if self.process is None else self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
