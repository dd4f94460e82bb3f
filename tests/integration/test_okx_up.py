"""`seqmesh up` runs each venue in its own dialect where the simulator speaks it: okx on OKX v5
(its edge on the generic ccxt path), binance on Binance's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from seqmesh.runtime.launcher.ready import free_port

from seqmesh.client.api import UP_KEY_FILE, CCClient
from seqmesh.testing.processes import wait_until


def test_up_runs_okx_on_its_own_dialect_beside_binance(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "up.out"
    proc = subprocess.Popen([sys.executable, "-m", "seqmesh", "up", "--regions", "local", "--venues", "binance,okx",
                             "--print-every", "0", "--api-port", api.rsplit(":", 1)[1],
                             "--work-dir", str(tmp_path / "up")],
                            stdout=out.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or "seqmesh up:" in out.read_text(), 120,
                   what="seqmesh up to serve")
        text = out.read_text()
        assert proc.poll() is None, text
        lines = {line.split()[1]: line for line in text.splitlines() if "simulator http" in line}
        assert "(okx dialect)" in lines["okx"] and "(binance dialect)" in lines["binance"], lines
        sim_logs = tmp_path / "up" / "logs"
        assert "/api/v5" in (sim_logs / "local-sim-okx.log").read_text()
        assert "/api/v3" in (sim_logs / "local-sim-binance.log").read_text()
        with CCClient(api, (tmp_path / "up" / UP_KEY_FILE).read_text().strip()) as cc:
            def both_quoted() -> bool:
                edges = {e["venue"]: e for e in cc.edges()}
                quoted = {row["venue"] for row in cc.bbo("BTC/USDT") if row["bid"] and row["ask"]}
                return all(edges[v]["connected"] for v in ("okx", "binance")) and {"okx", "binance"} <= quoted

            wait_until(both_quoted, 60, what=f"both venues connected and quoted: {cc.edges()}")
            assert {e["venue"]: e["exchange_id"] for e in cc.edges()} == {"okx": "okx", "binance": "binance"}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
