"""Three regions the way users run them, on a real node: simulated venues as pods, one
`helm install` of charts/seqmesh per region (its values-<r>.yaml, its own namespace, CA and
API keys; the chart's operator pod makes the CC and edge pods), then `helm upgrade` with the
PeerLinks. Then through the NA CC's Service: an order fills on an EU venue and the fill comes
back; the CC pod deleted mid-flow returns with its history, positions and algos (no fill lost
or doubled, checked against the venues' own trades); an Algo manifest runs on pod-run edges;
`helm upgrade` rolls the CC without losing an order.

Venues: coinbase (NA) and binance (AP) quote ETH/USDT, kraken (EU) BTC/USDT only, so a BTC/USDT
order at NA can only fill in EU; coinbase also quotes SOL/USDT, where an algo runs without
trading against the ETH/USDT orders (the venues' accounts are one demo account).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
import yaml

from seqmesh.client.api import CCClient
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.algos import build
from seqmesh.testing.helm_regions import HelmRegions, Venue, ns
from seqmesh.testing.kube import condition, get, load_seqmesh_image
from seqmesh.testing.processes import wait_until

# The fixture may wait for the machine's one node (another run holding it) and build the image.
pytestmark = [pytest.mark.k8s, pytest.mark.timeout(1800)]
# Alice's own account at coinbase: its secret is the exchange's (in the venue pod's arguments, the
# exchange's namespace), and seqmesh must never write it anywhere.
ALICE_VENUE_KEY, ALICE_VENUE_SECRET = "alice-at-coinbase", "e2e-alice-venue-secret-7f3a91c4d2b8e605"
VENUES = [Venue("coinbase", "na", ("ETH/USDT", "SOL/USDT"), 11, ((ALICE_VENUE_KEY, ALICE_VENUE_SECRET),)),
          Venue("kraken", "eu", ("BTC/USDT",), 12),
          Venue("binance", "ap", ("ETH/USDT",), 13)]
FINAL = ("filled", "canceled", "rejected", "expired")
CRASH_FINALS: list[dict[str, Any]] = []  # the flood's orders after the CC pod's deletion


@pytest.fixture(scope="module")
def mesh(k8s_node_cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelmRegions]:
    cp = k8s_node_cluster
    load_seqmesh_image(cp)
    regions = HelmRegions(cp, VENUES, tmp_path_factory.mktemp("regions"))
    try:
        regions.start_venues()
        regions.install()
        regions.link()
        regions.wait_ready(timeout=600)
        with regions.client("na") as c:  # every venue live at NA, its own and the peers'
            wait_until(lambda: live_venues(c) == {v.name for v in VENUES}, 180, interval=0.5,
                       what="all three venues connected at NA")
        yield regions
    finally:
        regions.uninstall()


def cc_pod_uid(cp: ControlPlane) -> str | None:
    pod = get(cp, "pod", "seqmesh-na-cc-0", ns("na"))
    return str(pod["metadata"]["uid"]) if pod else None


def live_venues(c: CCClient) -> set[str]:
    """The venues the CC has connected (none while it does not answer)."""
    try:
        return {e["venue"] for e in c.edges() if e.get("connected")}
    except Exception:  # the API is not back yet: not an answer
        return set()


def wait_final(c: CCClient, order_id: str, timeout: float = 60) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def final() -> bool:
        box["o"] = c.order(order_id)
        return box["o"]["state"] in FINAL

    try:
        wait_until(final, timeout, interval=0.2, what=f"order {order_id} final")
    except TimeoutError:
        raise AssertionError(f"order {order_id} not final in {timeout}s: {json.dumps(box.get('o'))}") from None
    out: dict[str, Any] = box["o"]
    return out


def venue(mesh: HelmRegions, name: str) -> Any:
    """ccxt on the simulator of `name`, as the edges' account (the demo one)."""
    url = mesh.sim_url(name)
    ex = ccxt.binance({"apiKey": "seqmesh-demo", "secret": "seqmesh-demo-secret"})
    for k in ("public", "private", "v1", "v3"):
        ex.urls["api"][k] = url + "/api/v3"
    ex.options.update(fetchCurrencies=False, fetchMargins=False, fetchMarkets={"types": ["spot"]})
    return ex


def venue_trades(mesh: HelmRegions, name: str, symbol: str, venue_order_id: str) -> set[str]:
    """The venue's own record of an order's trades (the simulator's myTrades, as ccxt reads it)."""
    trades = venue(mesh, name).fetch_my_trades(symbol, params={"orderId": venue_order_id})
    return {f"{name}:{symbol}:{t['id']}" for t in trades}


def venue_trade(mesh: HelmRegions, fill_id: str) -> Any:
    """What the venue says about one trade, and the order it was a trade of, with that order's
    client order id (the child the venue placed it for), for a failure's message."""
    name, symbol, trade_id = fill_id.rsplit(":", 2)
    ex = venue(mesh, name)
    found = ex.fetch_my_trades(symbol, params={"fromId": trade_id}, limit=1)
    if not found:
        return None
    trade = found[0]["info"]
    order = ex.fetch_order(str(trade["orderId"]), symbol)
    return {"venue": name, "trade": trade, "order": {k: order["info"].get(k) for k in (
        "orderId", "clientOrderId", "side", "type", "origQty", "executedQty", "status", "time")}}


def check_against_venues(mesh: HelmRegions, order: dict[str, Any]) -> None:
    """Every fill the CC booked is a trade the venue made for that child, and every trade the
    venue made for it is booked once."""
    venue_side: set[str] = set()
    for child in order["children"]:
        if child.get("venue_order_id"):
            venue_side |= venue_trades(mesh, child["venue"], order["symbol"], child["venue_order_id"])
    booked = [f["fill_id"] for f in order["fills"]]
    assert len(booked) == len(set(booked)), f"a fill booked twice: {booked}"
    assert set(booked) == venue_side, (order["order_id"], sorted(booked), sorted(venue_side), order["children"],
                                       [venue_trade(mesh, f) for f in set(booked) ^ venue_side])


def test_an_order_at_na_fills_on_an_eu_venue(mesh: HelmRegions) -> None:
    with mesh.client("na") as c:
        peers = {p["region"]: p for p in c.request("GET", "/v1/peers")}
        assert peers["eu"]["connected"] and peers["ap"]["connected"]
        assert peers["eu"]["endpoint"] == "seqmesh-eu-peer.seqmesh-eu.svc:50061"
        order = wait_final(c, c.submit("BTC/USDT", "buy", "0.01", client_order_id="e2e-eu-1")["order_id"])
        assert order["state"] == "filled" and Decimal(order["filled"]) == Decimal("0.01")
        assert {f["venue"] for f in order["fills"]} == {"kraken"}  # EU's venue, relayed back to NA
        check_against_venues(mesh, order)
        assert {p["symbol"]: Decimal(p["qty"]) for p in c.positions()}["BTC/USDT"] == Decimal("0.01")
    # The API keys are the chart's Secret's: the development key is refused.
    with CCClient(mesh.api("na"), key="seqmesh-dev-key", **mesh.tls("na")) as dev:
        assert dev.http.get("/v1/orders").status_code == 401


def algo_manifest(name: str, region: str, edges: list[str], symbol: str) -> dict[str, Any]:
    wasm = build()["market-maker"].read_bytes()
    return {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Algo", "metadata": {"name": name},
            "spec": {"region": region, "edges": edges, "symbol": symbol, "state": "Running",
                     "params": {"size_lots": "10", "half_spread_ticks": "50"},
                     "wasm": base64.b64encode(wasm).decode()}}


def per_edge(cp: ControlPlane, name: str, namespace: str) -> dict[str, dict[str, Any]]:
    algo = get(cp, "algo", name, namespace) or {}
    return {e["edge"]: e for e in algo.get("status", {}).get("perEdge", [])}


def test_an_algo_manifest_runs_on_the_pod_edges(mesh: HelmRegions, tmp_path: Path) -> None:
    cp = mesh.cp
    path = tmp_path / "algo.yaml"
    path.write_text(yaml.safe_dump(algo_manifest("mm-eu", "eu", ["eu-kraken"], "BTC/USDT")))
    cp.kubectl("apply", "-n", ns("eu"), "-f", str(path))
    out = cp.kubectl("wait", "-n", ns("eu"), "--for=condition=Deployed", "algo/mm-eu", "--timeout=180s",
                     timeout=210)
    assert "condition met" in out.stdout
    cp.kubectl("wait", "-n", ns("eu"), "--for=condition=Ready", "algo/mm-eu", "--timeout=60s", timeout=90)
    first = per_edge(cp, "mm-eu", ns("eu"))["eu-kraken"]
    assert first["state"] == "Running"
    wait_until(lambda: (per_edge(cp, "mm-eu", ns("eu"))["eu-kraken"].get("calls") or 0) > (first.get("calls") or 0),
               120, interval=1, what="the algo's calls growing on the kraken edge pod")
    assert condition(get(cp, "algo", "mm-eu", ns("eu")), "Deployed")["status"] == "True"


class Flood:
    """Market orders of 0.5 ETH/USDT (coinbase at NA, binance at AP), alternately buy and sell,
    on a thread until the CC stops answering; returns once some are acknowledged."""

    def __init__(self, mesh: HelmRegions, prefix: str, n: int = 30) -> None:
        self.ids = [f"{prefix}-{i}" for i in range(n)]
        self.acked: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._run, args=(mesh,))
        self.thread.start()
        wait_until(lambda: len(self.acked) >= 5 or not self.thread.is_alive(), 120, interval=0.01,
                   what="some orders acknowledged")
        assert len(self.acked) >= 5, "the flood stopped before the CC went away"

    def side(self, i: int) -> str:
        return "buy" if i % 2 else "sell"

    def _run(self, mesh: HelmRegions) -> None:
        with mesh.client("na", timeout=5) as c:
            for i, cid in enumerate(self.ids):
                try:
                    self.acked.append(c.submit("ETH/USDT", self.side(i), "0.5", client_order_id=cid))
                except Exception:
                    return  # the CC went away under us


def test_the_cc_pod_deleted_mid_flow_keeps_history_positions_and_algos(mesh: HelmRegions) -> None:
    cp = mesh.cp
    wasm = build()["market-maker"].read_bytes()
    with mesh.client("na", who="bob") as bob:  # an algo deployed through the API: only the algo store has it
        bob.deploy_algo("mm-api", wasm, "SOL/USDT", ["coinbase"], {"size_lots": "10", "half_spread_ticks": "60"},
                        start=True)
        wait_until(lambda: bob.algo("mm-api")["edges"][0]["state"] == "Running", 60, interval=0.5,
                   what="bob's algo running")
    old = cc_pod_uid(cp)
    assert old is not None
    flood = Flood(mesh, "crash")
    cp.kubectl("delete", "pod", "seqmesh-na-cc-0", "-n", ns("na"), "--wait=false")
    flood.thread.join(120)
    acked = {o["client_order_id"]: o["order_id"] for o in flood.acked}
    # The StatefulSet brings it back on the same claim; the Region is Ready again once it answers.
    wait_until(lambda: cc_pod_uid(cp) not in (None, old), 120, interval=0.5, what="a new CC pod")
    cp.kubectl("wait", "-n", ns("na"), "--for=condition=Ready", "pod/seqmesh-na-cc-0", "--timeout=300s", timeout=330)
    with mesh.client("na", timeout=30) as c:
        wait_until(lambda: live_venues(c) >= {"coinbase", "binance"}, 120, interval=0.5,
                   what="the ETH venues back at NA")
        # The client retries every order with its id: each acknowledged one is the same order.
        for i, cid in enumerate(flood.ids):
            again = c.submit("ETH/USDT", flood.side(i), "0.5", client_order_id=cid)
            if cid in acked:
                assert again["order_id"] == acked[cid], f"{cid} became a second order"
        orders = [o for o in c.orders(limit=1000) if o["client_order_id"] in flood.ids]
        assert sorted(o["client_order_id"] for o in orders) == sorted(flood.ids)
        try:
            finals = [wait_final(c, o["order_id"]) for o in orders]
        except AssertionError as exc:  # what the CC and the edges did, for the report
            logs = {pod: cp.kubectl("logs", "-n", ns(r), pod, "--tail=60", check=False).stdout
                    for r, pod in (("na", "seqmesh-na-cc-0"), ("na", "seqmesh-na-edge-coinbase-0"),
                                   ("ap", "seqmesh-ap-cc-0"), ("ap", "seqmesh-ap-edge-binance-0"))}
            previous = cp.kubectl("logs", "-n", ns("na"), "seqmesh-na-cc-0", "--previous", "--tail=40",
                                  check=False).stdout
            raise AssertionError(f"{exc}\n--- na cc before the deletion:\n{previous}\n" + "\n".join(
                f"--- {pod}:\n{text}" for pod, text in logs.items())) from None
        assert all(o["state"] == "filled" for o in finals), [(o["client_order_id"], o["state"]) for o in finals]
        CRASH_FINALS[:] = finals  # the venues' view of them: the next test
        fills = [f["fill_id"] for o in finals for f in o["fills"]]
        assert len(fills) == len(set(fills))
        net = sum(Decimal(f["quantity"]) * (1 if o["side"] == "buy" else -1) for o in finals for f in o["fills"])
        earlier = {"BTC/USDT", "SOL/USDT"}  # the EU test's order is alice's too; SOL: not the flood's
        pos = {p["symbol"]: Decimal(p["qty"]) for p in c.positions() if p["symbol"] not in earlier}
        assert pos.get("ETH/USDT", Decimal(0)) == net
    with mesh.client("na", who="bob") as bob:  # the algo store was on the claim too
        algo = bob.algo("mm-api")
        assert algo["edges"][0]["state"] == "Running"
        calls = algo["edges"][0].get("calls") or 0
        wait_until(lambda: (bob.algo("mm-api")["edges"][0].get("calls") or 0) > calls, 60, interval=0.5,
                   what="bob's algo running again after the restart")
        bob.stop_algo("mm-api")


def test_after_the_cc_pod_deletion_every_fill_is_a_venue_trade_of_its_child(mesh: HelmRegions) -> None:
    assert CRASH_FINALS, "runs after the CC pod deletion test"
    for order in CRASH_FINALS:
        check_against_venues(mesh, order)


def test_helm_upgrade_rolls_the_cc_without_losing_an_order(mesh: HelmRegions) -> None:
    cp = mesh.cp
    region = get(cp, "region", "na", ns("na"))
    assert region is not None
    before_hash, before_uid = region["status"]["configHash"], cc_pod_uid(cp)
    with mesh.client("na") as c:
        market = wait_final(c, c.submit("ETH/USDT", "buy", "0.5", client_order_id="roll-market")["order_id"])
        resting = c.submit("ETH/USDT", "buy", "0.5", type="limit", price="100", client_order_id="roll-resting")
        assert resting["state"] not in FINAL
    mesh.extra_values["na"] = {"risk": {"maxOrderNotional": "1500000"}}
    mesh.helm("upgrade", "na", True)
    wait_until(lambda: (get(cp, "region", "na", ns("na")) or {}).get("status", {}).get("configHash") != before_hash,
               120, interval=0.5, what="the new configuration")
    wait_until(lambda: cc_pod_uid(cp) not in (None, before_uid), 180, interval=0.5, what="the CC pod replaced")
    cp.kubectl("wait", "-n", ns("na"), "--for=condition=Ready", "pod/seqmesh-na-cc-0", "--timeout=300s", timeout=330)
    # The Region follows its pod: Ready at the new configuration.
    wait_until(lambda: condition(get(cp, "region", "na", ns("na")), "Ready").get("status") == "True"
               and (get(cp, "region", "na", ns("na")) or {})["status"]["configHash"] != before_hash, 120,
               interval=0.5, what="region na Ready at the new configuration")
    config = json.loads((get(cp, "configmap", "seqmesh-na-cc-config", ns("na")) or {})["data"]["config.json"])
    assert config["risk"]["max_order_notional"] == "1500000"
    with mesh.client("na", timeout=30) as c:
        # Through the Service: kube-proxy routes to the new pod a moment after it is Ready
        # (until then it refuses connections to a Service without endpoints).
        wait_until(lambda: live_venues(c) >= {"coinbase"}, 120, interval=0.5, what="the new CC answering")
        assert c.order(market["order_id"])["state"] == "filled"
        assert c.order(market["order_id"])["fills"] == market["fills"]
        assert c.order(resting["order_id"])["state"] not in FINAL  # still working after the roll
        # Its children may rest at coinbase or (through the AP peer) binance: both links back first
        # (the CC sends a cancel only over a live link: runtime/cc/execution.py _cancel_child).
        wait_until(lambda: live_venues(c) >= {"coinbase", "binance"}, 120, interval=0.5, what="the ETH venues back")
        c.cancel(resting["order_id"])
        assert wait_final(c, resting["order_id"])["state"] == "canceled"


# What seqmesh's objects are made of, in each region's namespace (the chart's, the operator's, ours).
SCANNED_KINDS = ("secrets,configmaps,pods,deployments,statefulsets,services,persistentvolumeclaims,events,"
                 "networkpolicies,regions.seqmesh.io,edges.seqmesh.io,algos.seqmesh.io,peerlinks.seqmesh.io")


def test_a_clients_venue_secret_is_in_no_kubernetes_object_and_no_pod_log(mesh: HelmRegions) -> None:
    """Last in the module: alice trades on her own coinbase account from here on."""
    with mesh.client("na") as c:
        cred = c.request("POST", "/v1/credentials", json={"venue": "coinbase", "key": ALICE_VENUE_KEY,
                                                          "secret": ALICE_VENUE_SECRET})
        assert cred["venue"] == "coinbase" and "secret" not in cred, cred
        order = wait_final(c, c.submit("ETH/USDT", "buy", "0.01", client_order_id="e2e-own-account-1")["order_id"])
        assert order["state"] == "filled", order
        listed = c.request("GET", "/v1/credentials")
        assert [x["credential_id"] for x in listed] == [cred["credential_id"]]
        seen = json.dumps([cred, order, listed])
        c.request("DELETE", f"/v1/credentials/{cred['credential_id']}")  # (the module's last test)
    assert ALICE_VENUE_SECRET not in seen
    found = []
    for region in mesh.regions:
        namespace = ns(region)
        objects = mesh.cp.kubectl("get", SCANNED_KINDS, "-n", namespace, "-o", "yaml", timeout=120).stdout
        assert "kind: Pod" in objects and "kind: Secret" in objects, objects[:2000]  # the scan saw them
        # Secrets' data is base64: decode every value before looking
        for item in yaml.safe_load(objects)["items"]:
            text = yaml.safe_dump(item)
            if item["kind"] == "Secret":
                for value in (item.get("data") or {}).values():
                    text += base64.b64decode(value).decode(errors="replace")
            if ALICE_VENUE_SECRET in text:
                found.append(f"{namespace}/{item['kind']}/{item['metadata']['name']}")
        for pod in yaml.safe_load(mesh.cp.kubectl("get", "pods", "-n", namespace, "-o", "yaml").stdout)["items"]:
            for container in pod["spec"]["containers"]:
                logs = mesh.cp.kubectl("logs", pod["metadata"]["name"], "-c", container["name"], "-n", namespace,
                                       check=False, timeout=60).stdout
                if ALICE_VENUE_SECRET in logs:
                    found.append(f"{namespace}/{pod['metadata']['name']}/{container['name']} log")
    assert not found, f"alice's venue secret written in: {found}"
