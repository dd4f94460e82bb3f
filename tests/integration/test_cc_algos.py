"""Algos deployed through the CC: REST upload, per-edge state, messages edge -> CC -> edge, the
NBBO, the region's limits on actions, and a CC or edge restart that loses nothing."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from seqmesh.runtime.edge.exchange import make_exchange

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.algos import build
from seqmesh.testing.books import wait_live
from seqmesh.testing.guests import bidder, pinger
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

VENUES = {"binance": ("0", "0.0008", "0.001"), "okx": ("0", "0.0010", "0.0011")}

PINGER = pinger()

# Every book: a limit buy of 1000 BTC at the best bid (far beyond any client's notional limit).
GREEDY = bidder(1_000_000_000)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    # A market that does not move and has no takers: an algo's resting quote fills only if a test
    # crosses it (a quote that drifted into a fill once pushed `dev` past its position limit and
    # the CC stopped the algo under the restart test).
    r = Region(tmp_path_factory.mktemp("algos"), VENUES,
               cc_args=("--max-order-notional", "100000", "--max-position", "BTC/USDT=0.003"),
               sim_args=("--volatility-bps", "0", "--taker-probability", "0"))
    with CCClient(r.api) as c:
        wait_live(c, 2)
    yield r
    r.stop()


def edge_states(c: CCClient, name: str) -> dict[str, dict[str, Any]]:
    return {e["edge"]: e for e in c.algo(name)["edges"]}


def wait_state(c: CCClient, name: str, state: str, timeout: float = 30) -> dict[str, dict[str, Any]]:
    wait_until(lambda: all(e["state"] == state for e in edge_states(c, name).values()), timeout,
               what=f"{name} {state} on every edge")
    return edge_states(c, name)


def test_deploy_message_mesh_and_lifecycle(region: Region) -> None:
    with CCClient(region.api) as c:
        algo = c.deploy_algo("pinger", PINGER, "BTC/USDT", ["binance", "okx"], {"mode": "test"}, start=True)
        assert algo["desired"] == "Running" and {e["edge"] for e in algo["edges"]} == {"binance", "okx"}
        # Baseline code at once; Cranelift's goes to each edge's cache for later instances.
        assert {e["code_tier"] for e in wait_state(c, "pinger", "Running").values()} == {"baseline"}
        # Each instance's ping went edge -> CC -> the other edge, never back to itself.
        wait_until(lambda: all(e["received"] >= 1 and e["messages"] >= 1 for e in edge_states(c, "pinger").values()),
                   30, what="pings delivered both ways")
        logs = c.algo_logs("pinger")
        assert "info: local/okx" in logs["binance"] and "info: local/binance" in logs["okx"], logs
        assert all("info: mode=test\n" in lines for lines in logs.values()), logs  # on_start got its params
        wait_until(lambda: all("info: nbbo" in lines for lines in c.algo_logs("pinger").values()), 30,
                   what="on_nbbo on both edges")

        c.stop_algo("pinger")
        calls = {k: v["calls"] for k, v in wait_state(c, "pinger", "Stopped").items()}
        c.start_algo("pinger")
        wait_until(lambda: all(e["calls"] > calls[k] for k, e in edge_states(c, "pinger").items()), 30,
                   what="calls resume after start")

        # An edge that restarts comes back empty: the CC deploys the algo to it again.
        region.restart_edge("okx")
        wait_until(lambda: edge_states(c, "pinger")["okx"]["state"] == "Running"
                   and edge_states(c, "pinger")["okx"]["calls"] > 0, 60, what="okx redeployed after its restart")
        assert edge_states(c, "pinger")["okx"]["code_tier"] == "optimized"  # from its cache

        # The CC restarts (kill -9): the deployment is still there and still running.
        region.cc.kill()
        region.restart_cc()
    with CCClient(region.api) as c:
        wait_until(lambda: _ok(lambda: c.algo("pinger")), 30, what="the CC back")
        assert c.algo("pinger")["sha256"] == algo["sha256"]
        wait_state(c, "pinger", "Running")
        assert c.delete_algo("pinger")["state"] == "Deleted"
        with pytest.raises(ApiError) as err:
            c.algo("pinger")
        assert err.value.status == 404 and c.algos() == []


def test_bad_uploads_are_refused_with_the_reason(region: Region) -> None:
    with CCClient(region.api) as c:
        cases: list[tuple[dict[str, Any], int, str, str]] = [
            ({"name": "junk", "wasm": b"not wasm at all"}, 400, "INVALID_WASM", "magic number"),
            ({"name": "noexp", "wasm": bytes(wasmtime.wat2wasm("(module (memory (export \"memory\") 1))"))},
             400, "INVALID_WASM", "missing exports: seqmesh_abi_version"),
            ({"name": "Bad Name", "wasm": PINGER}, 400, "INVALID_ALGO_NAME", "lowercase"),
            ({"name": "nowhere", "wasm": PINGER, "edges": ["binance", "nasdaq"]}, 404, "UNKNOWN_EDGE", "nasdaq"),
            ({"name": "nosym", "wasm": PINGER, "symbol": "DOGE/EUR"}, 400, "UNKNOWN_SYMBOL", "DOGE/EUR"),
        ]
        for case, status, code, says in cases:
            with pytest.raises(ApiError) as err:
                c.deploy_algo(case["name"], case["wasm"], case.get("symbol", "BTC/USDT"),
                              case.get("edges", ["binance"]))
            assert (err.value.status, err.value.code) == (status, code), case
            assert says in str(err.value), str(err.value)
        assert c.algos() == []  # nothing stored


def test_actions_are_held_to_the_clients_limits(region: Region) -> None:
    with CCClient(region.api) as c:
        c.deploy_algo("greedy", GREEDY, "BTC/USDT", ["binance"], start=True)
        wait_until(lambda: edge_states(c, "greedy")["binance"]["denied"] >= 3, 30, what="denials")
        st = edge_states(c, "greedy")["binance"]
        assert st["orders"] == 0 and st["state"] == "Running"  # denied, not sent, and not fatal
        assert any("MAX_ORDER_NOTIONAL" in line for line in c.algo_logs("greedy")["binance"])
        # The kill switch stops every algo.
        assert c.kill_switch(True)["algos_stopped"] == 1
        wait_state(c, "greedy", "Stopped")
        c.kill_switch(False)
        c.delete_algo("greedy")


def _ok(f: Any) -> bool:
    try:
        f()
        return True
    except Exception:
        return False



def test_algos_that_together_breach_the_position_limit_are_stopped(region: Region) -> None:
    """Each instance keeps to the client's limit on its own; two together go beyond it. Their fills
    are booked into the client's position, and the CC stops the client's algos on that symbol."""
    with CCClient(region.api) as c:
        for name, edge in (("buyer-a", "binance"), ("buyer-b", "okx")):
            c.deploy_algo(name, bidder(10, market=True), "BTC/USDT", [edge], start=True)  # 0.0001 BTC a book
        wait_until(lambda: all(c.algo(n)["halted"] for n in ("buyer-a", "buyer-b")), 60, interval=0.2,
                   what="both buyers halted")
        for name in ("buyer-a", "buyer-b"):
            algo = c.algo(name)
            assert algo["desired"] == "Stopped" and "POSITION_LIMIT" in algo["halted"], algo
        wait_until(lambda: all(e["state"] == "Stopped" for n in ("buyer-a", "buyer-b") for e in c.algo(n)["edges"]),
                   30, what="stopped on the edges")
        pos = {p["symbol"]: Decimal(p["qty"]) for p in c.positions()}["BTC/USDT"]
        # Beyond the client's 0.003, but each instance stayed within it: at most 0.006 together.
        assert Decimal("0.003") < pos <= Decimal("0.006"), pos
        assert c.start_algo("buyer-a")["halted"] is None  # a start clears it (the limit still applies)
        for name in ("buyer-a", "buyer-b"):
            c.delete_algo(name)


async def _open_orders(sim_url: str, prefix: str) -> set[str]:
    """The venue's own word on which of the edge account's orders rest there."""
    ex = make_exchange("binance", sim_url=sim_url, api_key="seqmesh-demo", secret="seqmesh-demo-secret")
    try:
        await ex.load_markets()
        return {o["clientOrderId"] for o in await ex.fetch_open_orders("BTC/USDT")
                if o["clientOrderId"].startswith(prefix)}
    finally:
        await ex.close()


def test_a_restarted_edge_cancels_the_old_instances_quotes_and_delete_cancels_the_rest(region: Region) -> None:
    url = region.sims["binance"][1]
    with CCClient(region.api) as c:
        c.deploy_algo("quoter", build()["market-maker"].read_bytes(), "BTC/USDT", ["binance"],
                      {"half_spread_ticks": "2000"}, start=True)  # $20 from mid: quotes rest
        wait_until(lambda: len(asyncio.run(_open_orders(url, "quoter."))) == 2, 30, what="two resting quotes")
        before = asyncio.run(_open_orders(url, "quoter."))
        region.restart_edge("binance")  # kill -9: the instance is gone, its quotes are not
        wait_until(lambda: edge_states(c, "quoter")["binance"]["state"] == "Running"
                   and edge_states(c, "quoter")["binance"]["calls"] > 0, 60, what="redeployed after the restart")
        # The new instance's first act: cancel what its predecessor left at the venue.
        wait_until(lambda: not asyncio.run(_open_orders(url, "quoter.")) & before, 30, what="orphans cancelled")
        assert len(asyncio.run(_open_orders(url, "quoter."))) <= 2
        c.delete_algo("quoter")
        wait_until(lambda: not asyncio.run(_open_orders(url, "quoter.")), 30, what="quotes cancelled on delete")


DASHBOARD = Path(__file__).resolve().parents[2] / "charts" / "seqmesh" / "dashboards" / "seqmesh.json"
# The samples a family exports, by its type (prometheus text exposition: a counter's TYPE line
# already names its _total sample).
SAMPLES = {"counter": ("",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",),
           "summary": ("", "_count", "_sum")}


def _exported(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            names.update(family + suffix for suffix in SAMPLES[kind])
    return names


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of `name`: their labels (in whatever order the exposition writes them) and values."""
    out = []
    for labels, value in re.findall(rf"^{name}\{{(.*)\}} (\S+)$", text, re.M):
        out.append((dict(re.findall(r'(\w+)="([^"]*)"', labels)), float(value)))
    return out


def test_every_metric_the_grafana_dashboard_queries_is_exported(region: Region) -> None:
    from prometheus_client import REGISTRY, generate_latest
    from seqmesh.operator import metrics as operator_metrics  # registers the operator's metrics

    dashboard = json.loads(DASHBOARD.read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bseqmesh_[a-z_]+", target["expr"])}
    assert len(queried) >= 15, queried
    with CCClient(region.api) as c:
        c.deploy_algo("metered", PINGER, "BTC/USDT", ["binance"], {}, start=True)
        wait_until(lambda: edge_states(c, "metered")["binance"]["calls"] > 0, 30, what="metered running")
        text = c.http.get("/metrics").text
        c.delete_algo("metered")
    assert operator_metrics.RECONCILES is not None
    missing = queried - _exported(text) - _exported(generate_latest(REGISTRY).decode())
    assert not missing, f"the dashboard queries metrics nobody exports: {sorted(missing)}"
    # The series that come and go with the region are there, with values.
    calls = [value for labels, value in _samples(text, "seqmesh_cc_algo_calls_total")
             if labels == {"algo": "metered", "edge": "binance"}]
    assert calls and calls[0] > 0, text
    ages = {labels["venue"]: float(value) for labels, value in _samples(text, "seqmesh_cc_venue_book_age_seconds")
            if labels["symbol"] == "BTC/USDT"}
    assert set(ages) == set(VENUES) and all(a >= 0 for a in ages.values()), ages
