"""The README's main job and the client commands, as a user runs them: `seqmesh up --demo` starts
a region as real processes, trades the demo orders and prints their TCA, deploys the example
algos, prints the NBBO board; meanwhile the `seqmesh` client subcommands trade and read through
the region's REST API; Ctrl-C stops everything and leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.launcher.ready import free_port

from seqmesh.client.api import UP_KEY_FILE
from seqmesh.testing.algos import build
from seqmesh.testing.processes import wait_until


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is `pid`."""
    out = set()
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            out.add(int(p))
    return out


def all_gone(pids: set[int]) -> None:
    deadline = time.monotonic() + 15
    while (left := {p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)}) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"


def urlopen_status(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


class Up:
    def __init__(self, tmp: Path) -> None:
        self.work = tmp / "up"
        self.api = f"http://127.0.0.1:{free_port()}"
        self.log = tmp / "up.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seqmesh", "up", "--regions", "local", "--demo", "--print-every", "1",
             "--api-port", self.api.rsplit(":", 1)[1], "--work-dir", str(self.work),
             "--algos", str(build()["arb-mesh"].parent)],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text()

    def cli(self, *args: str, ok: bool = True) -> str:
        # the key as a user finds it: the file `seqmesh up` keeps in its work dir
        env = {**os.environ, "SEQMESH_KEY_FILE": str(self.work / UP_KEY_FILE)}
        env.pop("SEQMESH_KEY", None)
        out = subprocess.run([sys.executable, "-m", "seqmesh", *args, "--api", self.api], capture_output=True,
                             text=True, timeout=60, env=env)
        assert (out.returncode == 0) == ok, f"seqmesh {' '.join(args)}: {out.returncode}\n{out.stdout}{out.stderr}"
        return out.stdout if ok else out.stderr


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    u = Up(tmp_path_factory.mktemp("up"))
    try:
        # The demo is done when the algo table is out; the board follows every second.
        def demo_done() -> bool:
            _, algos, board = u.output().partition("WebAssembly algos on the edges")
            return u.proc.poll() is not None or (bool(algos) and "NBBO BTC/USDT:" in board)

        wait_until(demo_done, 120, what="seqmesh up --demo to finish its demo")
        assert u.proc.poll() is None, u.output()
        yield u
    finally:
        if u.proc.poll() is None:
            os.killpg(u.proc.pid, signal.SIGINT)
            try:
                u.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(u.proc.pid, signal.SIGKILL)


def test_up_demo_trades_prints_tca_and_runs_the_example_algos(up: Up) -> None:
    out = up.output()
    assert f"seqmesh up: local API {up.api}" in out
    # its development client: a key of its own, printed, kept for its owner only; the well-known one is refused
    key_file = up.work / UP_KEY_FILE
    key = key_file.read_text().strip()
    assert key.startswith("smk_") and f"development client dev (admin), key {key}" in out
    assert key_file.stat().st_mode & 0o077 == 0
    assert urlopen_status(f"{up.api}/v1/orders", "seqmesh-dev-key") == 401
    assert urlopen_status(f"{up.api}/v1/orders", key) == 200
    for venue in ("binance", "kraken", "coinbase"):
        assert re.search(rf"local\s+{venue}\s+simulator http://127\.0\.0\.1:\d+\s+edge grpc", out), out
    orders = re.findall(r"^order (\S+)  (buy|sell) (\S+) BTC/USDT  state (\w+)$", out, re.M)
    assert [(side, qty, state) for _, side, qty, state in orders] == [
        ("buy", "0.05", "filled"), ("buy", "3", "filled"), ("sell", "2.5", "filled")], out
    assert out.count("\nTOTAL ") == 3 and out.count("routing saved") == 3
    # Each TCA's TOTAL row carries the order's whole quantity.
    totals = re.findall(r"^TOTAL\s+(\S+)", out, re.M)
    assert [Decimal(t) for t in totals] == [Decimal("0.05"), Decimal("3"), Decimal("2.5")]
    algos = re.findall(r"^(demo-\w+)\s+(\w+)\s+(\w+)\s+\d+", out, re.M)
    assert sorted(algos) == [("demo-arb", "binance", "Running"), ("demo-arb", "coinbase", "Running"),
                             ("demo-arb", "kraken", "Running"), ("demo-mm", "binance", "Running")], out
    assert re.search(r"^NBBO BTC/USDT: [\d.]+ @\w+ / [\d.]+ @\w+  spread", out, re.M), out


def test_client_commands_trade_and_read_through_the_region(up: Up) -> None:
    bought = up.cli("buy", "BTC/USDT", "0.5", "--client-order-id", "cli-buy-1")
    # The answer, then (unless the answer was already final) the order once final: the last line of
    # the two shows it filled.
    order_id = bought.split()[0]
    final = [line for line in bought.splitlines() if line.startswith(order_id + "  ")][-1]
    assert "buy 0.5 BTC/USDT market  state=filled filled=0.5" in final, bought
    assert re.search(r"^child\s+venue\s+qty\s+state\s+filled$", bought, re.M), bought
    # The same client order id again is the same order, not a second one.
    assert up.cli("buy", "BTC/USDT", "0.5", "--client-order-id", "cli-buy-1").splitlines()[0].split()[0] == order_id

    tca = up.cli("tca", order_id)
    assert f"order {order_id}  buy 0.5 BTC/USDT  state filled" in tca
    venue_qty = [Decimal(q) for q in re.findall(r"^(?!TOTAL)\w+\s+([\d.]+)\s+[\d,.]+\s+[\d,.]+\s+[\d,.]+$",
                                                  tca.split("\n", 3)[3], re.M)]
    assert venue_qty and sum(venue_qty) == Decimal("0.5"), tca
    assert re.search(r"^best single venue \w+: would have cost [\d,.]+; routing saved -?[\d,.]+ ", tca, re.M), tca
    assert re.search(r"^the fills came in .*the route's decision-time prices$", tca, re.M), tca

    shown = up.cli("order", order_id)
    assert shown.splitlines()[0] == final
    assert order_id in up.cli("orders")

    # A limit buy far below the market rests, and is cancelled.
    book = up.cli("book", "BTC/USDT", "--depth", "5")
    lines = book.splitlines()
    assert lines[0].split() == ["bid", "venues", "bid", "qty", "bid", "ask", "ask", "qty", "ask", "venues"]
    assert len(lines) == 2 + 5
    best_bid = Decimal(lines[2].split()[2])
    far = str((best_bid * Decimal("0.8")).quantize(Decimal("0.01")))
    rested = up.cli("buy", "BTC/USDT", "0.01", "--limit", far, "--wait", "0")
    rest_id = rested.split()[0]
    assert "limit  state=working filled=0 avg=-" in rested.splitlines()[0], rested
    assert re.search(r"^\S+-0\s+\w+\s+0\.01\s+ACCEPTED\s+0$", rested, re.M), rested
    up.cli("cancel", rest_id)
    wait_until(lambda: "state=canceled" in up.cli("order", rest_id), 20, what="the cancel")

    nbbo = up.cli("nbbo", "BTC/USDT")
    assert {line.split()[0] for line in nbbo.splitlines()[2:5]} == {"binance", "kraken", "coinbase"}
    assert re.search(r"^NBBO BTC/USDT: [\d.]+ \(\w+\) / [\d.]+ \(\w+\)  mid [\d.]+  spread", nbbo, re.M), nbbo

    positions = {line.split()[0]: line.split() for line in up.cli("positions").splitlines()[2:]}
    assert "BTC/USDT" in positions

    edges = up.cli("edges").splitlines()
    assert sorted(line.split()[0] for line in edges[2:]) == ["binance", "coinbase", "kraken"]
    assert all(line.split()[3] == "True" for line in edges[2:]), edges

    # Bad input: a named reason on stderr, a non-zero exit, no traceback.
    err = up.cli("buy", "NOPE/USDT", "1", ok=False)
    assert "seqmesh buy: 4" in err and "NOPE/USDT" in err and "Traceback" not in err, err
    err = up.cli("buy", "BTC/USDT", "-1", ok=False)
    assert "quantity" in err and "Traceback" not in err, err


def algo_rows(up: Up) -> dict[tuple[str, str], str]:
    """(algo, edge) -> state, from `seqmesh algo ls`."""
    lines = up.cli("algo", "ls").splitlines()
    return {(r.split()[0], r.split()[1]): r.split()[2] for r in lines[2:]}


def test_algo_commands_on_the_demo_algos(up: Up) -> None:
    assert algo_rows(up) == {("demo-arb", "binance"): "Running", ("demo-arb", "kraken"): "Running",
                             ("demo-arb", "coinbase"): "Running", ("demo-mm", "binance"): "Running"}
    assert "demo-mm  binance  Stopped" in up.cli("algo", "stop", "demo-mm")
    wait_until(lambda: algo_rows(up)[("demo-mm", "binance")] == "Stopped", 20, what="demo-mm stopped")
    assert "demo-mm  binance  Running" in up.cli("algo", "start", "demo-mm")
    logs = up.cli("algo", "logs", "demo-mm").splitlines()
    assert logs and all(line.startswith("[binance] ") for line in logs), logs
    assert up.cli("algo", "rm", "demo-mm").strip() == "demo-mm: deleted"
    wait_until(lambda: ("demo-mm", "binance") not in algo_rows(up), 20, what="demo-mm gone")
    assert "refused: 404" in up.cli("algo", "stop", "demo-mm", ok=False)


def test_no_cc_to_talk_to_is_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "seqmesh", "orders", "--api", f"http://127.0.0.1:{free_port()}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "cannot reach the CC at http://127.0.0.1:" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_ctrl_c_stops_every_process(up: Up) -> None:
    kids = children_of(up.proc.pid)
    assert len(kids) == 7, "three simulators, three edges and a CC should be running"
    os.killpg(up.proc.pid, signal.SIGINT)
    assert up.proc.wait(60) == 0, up.output()
    all_gone(kids)


def test_killing_seqmesh_up_takes_its_processes_with_it(tmp_path: Path) -> None:
    log = tmp_path / "up.out"
    proc = subprocess.Popen([sys.executable, "-m", "seqmesh", "up", "--regions", "local", "--venues", "binance",
                             "--print-every", "0", "--api-port", str(free_port()), "--work-dir", str(tmp_path / "up")],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or "seqmesh up:" in log.read_text(), 60, what="seqmesh up")
        assert proc.poll() is None, log.read_text()
        kids = children_of(proc.pid)
        assert len(kids) == 3, "a simulator, an edge and a CC should be running"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to stop anything itself
        proc.wait(10)
    all_gone(kids)
