"""`seqmesh up` runs NA's DEX venues on real chains: an anvil with the V2 market and its traders per
chain, the DEX edge on it, the CC seeing the pools beside a CEX's book; its chains die with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from seqmesh.runtime.launcher.ready import free_port
from seqmesh.runtime.venues.chain.anvil import connect

from seqmesh.client.api import UP_KEY_FILE, CCClient
from seqmesh.testing.processes import wait_until


def test_up_runs_a_dex_venue_on_its_chain_beside_a_cex(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "up.out"
    proc = subprocess.Popen([sys.executable, "-m", "seqmesh", "up", "--regions", "na", "--venues",
                             "coinbase,dex-arbitrum", "--print-every", "0", "--api-port", api.rsplit(":", 1)[1],
                             "--work-dir", str(tmp_path / "up")],
                            stdout=out.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or "seqmesh up:" in out.read_text(), 120,
                   what="seqmesh up to serve")
        text = out.read_text()
        assert proc.poll() is None, text
        assert "dex-arbitrum anvil http://127.0.0.1:" in text and "(chain id 42161)" in text, text
        (chain,) = json.loads((tmp_path / "up" / "na" / "chains" / "arbitrum.json").read_text())
        w3 = connect(chain["url"])
        assert w3.eth.chain_id == 42161 and set(chain["pairs"]) >= {"WBTC/USDT", "WETH/USDT"}
        with CCClient(api, (tmp_path / "up" / UP_KEY_FILE).read_text().strip()) as cc:
            def quoted() -> bool:
                edges = {e["venue"]: e for e in cc.edges()}
                rows = {row["venue"] for row in cc.bbo("BTC/USDT") if row["bid"] and row["ask"]}
                return all(edges[v]["connected"] for v in ("coinbase", "dex-arbitrum")) and "dex-arbitrum" in rows

            wait_until(quoted, 60, what=f"the DEX venue connected and quoted: {cc.edges()}")
        start = w3.eth.block_number
        wait_until(lambda: w3.eth.block_number > start + 2, 30, what="the chain producing blocks")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    wait_until(lambda: not connect(chain["url"], timeout=1).is_connected(), 30,
               what="the chain stopped with seqmesh up")
