"""Every long-running seqmesh process stops cleanly on SIGTERM, as a container's main process must.

Each runs twice. As PID 1 of its own PID namespace (`unshare --pid --fork`), as in a container:
the kernel drops a signal sent to a namespace's init unless the process handles it, so a process
that relies on SIGTERM's default action would wait out the test's bound here (and a pod's grace
period in a cluster). And as a plain process, where nothing kills what it leaves behind (in a
namespace the kernel SIGKILLs the rest when init exits, which would hide an orphan): none of its
children may survive it. Only that process gets the signal, not its process group, as the
container runtime sends it; it must exit with 0."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from seqmesh.runtime.launcher.ready import CC_READY, EDGE_READY, SIM_READY, free_port

from seqmesh.devcluster.controlplane import REPO, ControlPlane
from seqmesh.testing.kube import wait_reconciled
from seqmesh.testing.processes import Proc, wait_until

#: A stop must fit well inside Kubernetes' default grace period (30 s); this is that bound, not a speed figure.
STOP_BOUND_S = 20.0

Started = tuple[int, int]  # (pid, start time in clock ticks): a pid reused by a new process is not "the same"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def alive(proc: Started) -> bool:
    fields = _stat(proc[0])
    return fields is not None and fields[0] != "Z" and int(fields[19]) == proc[1]


def descendants(pid: int) -> set[Started]:
    """`pid` and every live process below it, from /proc."""
    parents: dict[int, list[Started]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat(int(entry))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append((int(entry), int(fields[19])))
    me = _stat(pid)
    found: set[Started] = {(pid, int(me[19]))} if me else set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


class Command:
    """A seqmesh command as a process; with `as_init`, as PID 1 of a new PID namespace (`proc` is then
    the `unshare` around it)."""

    def __init__(self, args: list[str], ready: str, as_init: bool, env: dict[str, str] | None = None) -> None:
        wrap = ["unshare", "--pid", "--fork", "--kill-child", "--"] if as_init else []
        self.proc = Proc([*wrap, *args], ready, timeout=120, env=env)
        self.pid = self.proc.pid
        if as_init:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            assert len(children) == 1, children
            self.pid = int(children[0])  # the command, PID 1 inside

    def sigterm(self) -> int:
        """SIGTERM to the command alone; its exit code once it (and everything it started) is gone."""
        before = descendants(self.pid)
        os.kill(self.pid, signal.SIGTERM)
        try:
            code = self.proc.popen.wait(STOP_BOUND_S)  # (unshare exits with its child's code)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output = "\n".join(self.proc.lines)
            raise AssertionError(f"still running {STOP_BOUND_S} s after SIGTERM:\n{output}") from None
        left = {p for p in before if alive(p)}  # children the command did not stop
        assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid, _ in left]
        return code

    def stop(self) -> None:
        self.proc.kill()


@pytest.fixture
def started() -> Iterator[list[Command]]:
    procs: list[Command] = []
    yield procs
    for p in reversed(procs):
        p.stop()


def fetch(url: str) -> bytes:
    """The body of a 200 answer (the CC's development key sent along), else b"" (not up yet)."""
    request = urllib.request.Request(url, headers={"Authorization": "Bearer seqmesh-dev-key"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return bytes(answer.read())
    except OSError:
        return b""


def seqmesh(*args: str) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "seqmesh"), *args]


@pytest.mark.parametrize("as_init", [True, False], ids=["pid-1", "plain"])
def test_sim_edge_and_cc_stop_on_sigterm(tmp_path: Path, started: list[Command], as_init: bool) -> None:
    started.append(Command(seqmesh("sim", "--venue", "binance", "--seed", "5"), SIM_READY, as_init))
    sim_url = f"http://127.0.0.1:{started[-1].proc.match.group(2)}"  # type: ignore[union-attr]
    started.append(Command(seqmesh("edge", "--venue", "binance", "--sim-url", sim_url, "--dev-pki",
                                   str(tmp_path / "pki"), "--state-dir", str(tmp_path / "state")), EDGE_READY, as_init))
    edge = f"127.0.0.1:{started[-1].proc.match.group(2)}"  # type: ignore[union-attr]
    started.append(Command(seqmesh("cc", "--listen", "127.0.0.1:0", "--dev-pki", str(tmp_path / "pki"), "--db",
                                   str(tmp_path / "cc.sqlite"), "--edge", f"binance={edge}"), CC_READY, as_init))
    api = started[-1].proc.match.group(2)  # type: ignore[union-attr]
    # The CC is connected (the edge's book reaches it) before it is stopped: its links must close too.
    wait_until(lambda: b"binance" in fetch(f"{api}/v1/nbbo/BTC/USDT"), 60, what="the CC's NBBO from the edge")
    for proc in reversed(started):  # CC, then the edge, then the simulator: each alone
        assert proc.sigterm() == 0, "\n".join(proc.proc.lines)


def catches(pid: int, sig: signal.Signals) -> bool:
    """Whether `pid` has a handler for `sig` (SigCgt in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    return False


def test_sigterm_while_starting_stops_pid_1(tmp_path: Path) -> None:
    """A pod stopped while its process starts, before the command's own handler exists: here the CC
    is held opening its --config, a FIFO nobody writes. It exits with 143, the documented code."""
    fifo = tmp_path / "settings.json"
    os.mkfifo(fifo)
    with open(tmp_path / "out.log", "w") as log:
        wrapper = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--",
                                    *seqmesh("cc", "--config", str(fifo))], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        children = Path(f"/proc/{wrapper.pid}/task/{wrapper.pid}/children")
        wait_until(lambda: children.read_text().split(), 30, what="unshare's child")
        pid = int(children.read_text().split()[0])
        wait_until(lambda: catches(pid, signal.SIGTERM), 60, what="a SIGTERM handler in the starting CC")
        os.kill(pid, signal.SIGTERM)
        assert wrapper.wait(STOP_BOUND_S) == 143, (tmp_path / "out.log").read_text()
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
            wrapper.wait()


@pytest.mark.k8s
def test_operator_stops_on_sigterm(tmp_path: Path, started: list[Command]) -> None:
    with ControlPlane(tmp_path / "cp") as cp:
        cp.kubectl("apply", "-f", str(REPO / "crds"))
        cp.wait_established(*(f"{crd}.seqmesh.io" for crd in ("regions", "edges", "algos", "peerlinks")))
        cp.kubectl("apply", "-n", "default", "-f", str(REPO / "examples" / "manifests" / "region-na.yaml"))
        for as_init in (False, True):
            operator = start_operator(cp, as_init)
            started.append(operator)
            assert not {p for p in descendants(operator.pid) if p[0] != operator.pid}, "kopf runs as a child"
            assert operator.sigterm() == 0, "\n".join(operator.proc.lines)


def start_operator(cp: ControlPlane, as_init: bool) -> Command:
    """`seqmesh operator run` for the default namespace, once it has reconciled the Region there."""
    liveness, metrics = free_port(), free_port()
    env = {"KUBECONFIG": str(cp.kubeconfig), "SEQMESH_OPERATOR_RESYNC_SECONDS": "2"}
    # `sh` announces the start and execs the operator in its place (the same process).
    operator = Command(["sh", "-c", 'echo starting; exec "$@"', "sh", *seqmesh(
        "operator", "run", "--namespace", "default", "--liveness-port", str(liveness),
        "--metrics-port", str(metrics))], "starting", as_init, env=env)
    try:
        wait_until(lambda: fetch(f"http://127.0.0.1:{liveness}/healthz"), 120, what="the operator's liveness")
        # It reconciles in the namespace it watches (each resync counts), and counts that in its metrics.
        wait_until(lambda: b'seqmesh_operator_reconciles_total{kind="Region"' in fetch(
            f"http://127.0.0.1:{metrics}/metrics"), 120, what="a Region reconciled, in the metrics")
        wait_reconciled(cp, "region", "na", timeout=60)
    except BaseException:
        operator.stop()
        raise
    return operator
