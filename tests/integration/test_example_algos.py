"""The example algos (built from Rust source with the SDK) on a real region: the arbitrage mesh
takes a crossing between two simulated venues through messages and the NBBO, the market maker
keeps replacing its quotes as the book moves, and every kind of misbehaviour is stopped with
its reason while a sibling on the same edge keeps trading."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from seqmesh.client.api import CCClient
from seqmesh.testing.algos import build
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

# binance 40 bps below and okx 40 bps above the common reference: okx's bid is above binance's ask.
CROSSED = {"binance": ("-40", "0.0008", "0.001"), "okx": ("40", "0.0010", "0.0011")}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    r = Region(tmp_path_factory.mktemp("examples"), CROSSED, sim_args=("--volatility-bps", "3"))
    with CCClient(r.api) as c:
        wait_until(lambda: all(e["connected"] for e in c.edges()) and c.nbbo("BTC/USDT")["crossed"], 30,
                   what="a crossed NBBO across two live venues")
    yield r
    r.stop()


def edges(c: CCClient, name: str) -> dict[str, dict[str, Any]]:
    return {e["edge"]: e for e in c.algo(name)["edges"]}


def test_arbitrage_mesh_takes_the_crossing_on_both_venues(region: Region) -> None:
    wasm = build()["arb-mesh"]
    # Deployed with the CLI, as a user would.
    out = subprocess.run([sys.executable, "-m", "seqmesh", "algo", "deploy", str(wasm), "--name", "arb",
                          "--edges", "binance,okx", "--param", "cooldown_ms=300", "--param", "max_lots=20",
                          "--api", region.api], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ready, running on 2/2 edges" in out.stdout, out.stdout
    with CCClient(region.api) as c:
        wait_until(lambda: all(e["received"] >= 1 and e["fills"] >= 1 for e in edges(c, "arb").values()), 60,
                   interval=0.2, what="quotes exchanged and both legs filled")
        st = edges(c, "arb")
        # Cheap venue bought, rich venue sold: the two legs of one arbitrage.
        assert Decimal(st["binance"]["position"]) > 0 > Decimal(st["okx"]["position"]), c.algo_logs("arb")
        assert st["binance"]["traps"] == 0 and st["okx"]["traps"] == 0
        # The CC books the algo's fills into the client's positions (which its risk limits read).
        c.stop_algo("arb")

        def booked() -> bool:
            st = edges(c, "arb")
            pos = {p["symbol"]: Decimal(p["qty"]) for p in c.positions()}
            return pos.get("BTC/USDT") == Decimal(st["binance"]["position"]) + Decimal(st["okx"]["position"])

        wait_until(booked, 30, what="the algo's fills in the client's positions")
        c.delete_algo("arb")


def test_market_maker_replaces_its_quotes_as_the_book_moves(region: Region) -> None:
    wasm = build()["market-maker"].read_bytes()
    with CCClient(region.api) as c:
        c.deploy_algo("mm", wasm, "BTC/USDT", ["okx"], {"half_spread_ticks": "20", "requote_ticks": "2"},
                      start=True)
        wait_until(lambda: edges(c, "mm")["okx"]["orders"] >= 8, 60, interval=0.2, what="quotes replaced")
        # A bid and an ask live, not a pile: replaced quotes are cancelled (on a loaded machine some
        # cancels are still in flight at any given moment, so the count settles rather than holds).
        wait_until(lambda: edges(c, "mm")["okx"]["open_orders"] <= 4, 30, interval=0.2, what="replaced quotes gone")
        st = edges(c, "mm")["okx"]
        assert st["denied"] == 0 and st["state"] == "Running"
        c.delete_algo("mm")


@pytest.mark.parametrize(("mode", "reason"), [
    ("loop", "fuel exhausted"), ("grow", "trap"), ("trap", "trap"), ("liar", "ABI violation"),
])
def test_misbehaving_algo_is_stopped_and_its_sibling_goes_on(region: Region, mode: str, reason: str) -> None:
    paths = build()
    with CCClient(region.api) as c:
        c.deploy_algo("calm", paths["market-maker"].read_bytes(), "BTC/USDT", ["binance"],
                      {"half_spread_ticks": "30"}, start=True)
        c.deploy_algo(f"bad-{mode}", paths["misbehaving"].read_bytes(), "BTC/USDT", ["binance"], {"mode": mode},
                      start=True)
        wait_until(lambda: edges(c, f"bad-{mode}")["binance"]["state"] == "Failed", 30, interval=0.1,
                   what=f"{mode} stopped")
        bad = edges(c, f"bad-{mode}")["binance"]
        assert reason in bad["reason"] and bad["traps"] == 1, bad
        calls = edges(c, "calm")["binance"]["calls"]
        wait_until(lambda: edges(c, "calm")["binance"]["calls"] > calls + 5, 30, what="the sibling still called")
        assert edges(c, "calm")["binance"]["state"] == "Running"
        if mode == "grow":
            assert any("out of memory" in line for line in c.algo_logs(f"bad-{mode}")["binance"])
        c.delete_algo(f"bad-{mode}")
        c.delete_algo("calm")


def test_oversized_message_is_refused_and_counted_not_fatal(region: Region) -> None:
    with CCClient(region.api) as c:
        c.deploy_algo("chatty", build()["misbehaving"].read_bytes(), "BTC/USDT", ["okx"], {"mode": "oversize"},
                      start=True)
        wait_until(lambda: edges(c, "chatty")["okx"]["rejected_messages"] >= 3, 30, what="rejections counted")
        st = edges(c, "chatty")["okx"]
        assert st["state"] == "Running" and st["messages"] == 0
        c.delete_algo("chatty")
