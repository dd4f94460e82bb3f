"""The venues' wrapping keys against the real API server: one Secret per region and venue, made
once by the operator and never regenerated (resyncs, operator restarts, an Edge deleted and made
again), mounted into every edge pod of the venue; an Edge naming its own Secret; rotation by
annotation adds a key and keeps the old ones; a retained Secret deleted by mistake is not
made again."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from seqmesh.common.sealing import WrappingKey
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.kube import apply, condition, get, scratch_namespace, wait_reconciled
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s
REPO = Path(__file__).resolve().parents[2]
NS = "wrapping-keys"
ROTATE = "seqmesh.io/rotate-wrapping-key"


class Operator:
    """The operator (kopf, in this process), which a test may stop and start again."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self._stack = contextlib.ExitStack()
        self.runner: KopfRunner | None = None

    def start(self) -> None:
        os.environ["KUBECONFIG"] = str(self.cp.kubeconfig)
        self._stack = contextlib.ExitStack()
        self.runner = self._stack.enter_context(
            KopfRunner(["run", "--standalone", "-A", "-m", "seqmesh.operator.main"], timeout=60))

    def stop(self) -> None:
        self._stack.close()
        assert self.runner is not None and self.runner.exception is None, self.runner.output[-3000:]


@pytest.fixture(scope="module")
def operator(k8s_cluster: ControlPlane) -> Iterator[Operator]:
    k8s_cluster.kubectl("apply", "-f", str(REPO / "crds"))
    k8s_cluster.wait_established(*(f"{crd}.seqmesh.io" for crd in ("regions", "edges", "algos", "peerlinks")))
    op = Operator(k8s_cluster)
    with scratch_namespace(k8s_cluster, NS):
        op.start()
        try:
            yield op
        finally:
            op.stop()


def region(name: str, retain: bool) -> dict[str, Any]:
    return {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "metadata": {"name": name},
            "spec": {"region": name, "apiKeysSecret": "keys", "storage": {"retainOnDelete": retain}}}


def edge(name: str, region_name: str, venue: str = "binance", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Edge", "metadata": {"name": name},
            "spec": {"region": region_name, "venue": venue, "symbols": ["BTC/USDT"],
                     "simulatorUrl": "http://sim:8100", **spec}}


def secret(cp: ControlPlane, name: str) -> dict[str, Any] | None:
    return get(cp, "secret", name, NS)


def keys_of(obj: dict[str, Any] | None) -> dict[str, str]:
    """The Secret's key files: name -> key id (each must parse as an X25519 private key)."""
    data = (obj or {}).get("data") or {}
    return {f: WrappingKey.from_pem(base64.b64decode(v)).key_id for f, v in sorted(data.items())}


def edge_status(cp: ControlPlane, name: str) -> dict[str, Any]:
    return (get(cp, "edge", name, NS) or {}).get("status") or {}


def reconciles() -> float:
    """How many Edge reconciliations the operator (in this process) has finished."""
    from seqmesh.operator.metrics import RECONCILES

    return sum(s.value for m in RECONCILES.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels["kind"] == "Edge")


def after_resyncs(n: int = 4) -> None:
    """Wait until the operator has levelled the Edges `n` more times (its resync is 2 s here)."""
    start = reconciles()
    wait_until(lambda: reconciles() >= start + n, 60, interval=0.2, what=f"{n} more Edge reconciliations")


def pod_template(cp: ControlPlane, venue: str, region_name: str) -> dict[str, Any]:
    sts = get(cp, "statefulset", f"seqmesh-{region_name}-edge-{venue}", NS)
    assert sts is not None, f"the {venue} edge's StatefulSet"
    spec: dict[str, Any] = sts["spec"]["template"]["spec"]
    return spec


def delete(cp: ControlPlane, kind: str, name: str) -> None:
    cp.kubectl("delete", kind, name, "-n", NS, "--wait=false")
    wait_until(lambda: get(cp, kind, name, NS) is None, 60, interval=0.2, what=f"{kind}/{name} deleted")


def test_one_secret_per_venue_made_once_and_never_regenerated(operator: Operator) -> None:
    cp = operator.cp
    apply(cp, NS, region("wk", retain=False), edge("wk-binance", "wk"))
    name = "seqmesh-wk-binance-wrapping"
    wait_until(lambda: edge_status(cp, "wk-binance").get("wrappingKeysSecret") == name, 60, interval=0.2,
               what=f"the Edge's status naming {name}; status: {edge_status(cp, 'wk-binance')}")
    first = secret(cp, name)
    assert first is not None and list(keys_of(first)) == ["0001.pem"]
    owner = get(cp, "region", "wk", NS)
    assert [r["uid"] for r in first["metadata"]["ownerReferences"]] == [owner["metadata"]["uid"]]  # type: ignore[index]
    # Mounted read-only, and the edge told where.
    pod = pod_template(cp, "binance", "wk")
    container = pod["containers"][0]
    assert container["args"][container["args"].index("--wrapping-keys") + 1] == "/etc/seqmesh/wrapping-keys"
    assert {"name": "wrapping-keys", "mountPath": "/etc/seqmesh/wrapping-keys", "readOnly": True} in \
        container["volumeMounts"]
    volume = next(v for v in pod["volumes"] if v["name"] == "wrapping-keys")
    assert volume["secret"]["secretName"] == name
    # A second Edge of the venue: the same Secret, not touched.
    apply(cp, NS, edge("wk-binance-2", "wk"))
    wait_until(lambda: edge_status(cp, "wk-binance-2").get("wrappingKeysSecret") == name, 60, interval=0.2,
               what="the second Edge's status")
    # Level-based reconciles (resync every 2 s) and an operator restart never write it again.
    after_resyncs()
    operator.stop()
    operator.start()
    after_resyncs()
    assert secret(cp, name) == first
    # Both Edges deleted and one made again: the keys stay (the Secret is the Region's).
    delete(cp, "edge", "wk-binance")
    delete(cp, "edge", "wk-binance-2")
    apply(cp, NS, edge("wk-binance", "wk"))
    wait_reconciled(cp, "edge", "wk-binance", namespace=NS)
    after_resyncs()
    assert secret(cp, name) == first
    # Deleting the Region (its claims not retained) removes the keys with it.
    cp.kubectl("delete", "region", "wk", "-n", NS, "--wait=false")
    wait_until(lambda: secret(cp, name) is None, 60, interval=0.5, what="the Secret garbage-collected")


def test_keys_retained_with_the_claims_serve_the_region_made_again(operator: Operator) -> None:
    """With retainOnDelete (the default) the keys outlive the Region, as its claims do: the
    credentials sealed on those claims still open when the region is installed again."""
    cp = operator.cp
    apply(cp, NS, region("kept", retain=True), edge("kept-okx", "kept", venue="okx", simulatorDialect="okx"))
    name = "seqmesh-kept-okx-wrapping"
    wait_until(lambda: secret(cp, name) is not None, 60, interval=0.2, what=f"Secret {name}")
    first = secret(cp, name)
    assert first is not None and not first["metadata"].get("ownerReferences")
    delete(cp, "edge", "kept-okx")
    delete(cp, "region", "kept")
    apply(cp, NS, region("kept", retain=True), edge("kept-okx", "kept", venue="okx", simulatorDialect="okx"))
    wait_reconciled(cp, "edge", "kept-okx", namespace=NS)
    after_resyncs()
    assert secret(cp, name) == first
    # The Secret deleted by mistake is not made again with a new key (every credential is sealed for
    # the old one, and the pods would take the new file): the Edge says so, naming the key.
    (key_id,) = keys_of(first).values()
    wait_until(lambda: edge_status(cp, "kept-okx").get("wrappingKeyIds") == [key_id], 30, interval=0.2,
               what=f"the key id in the Edge's status: {edge_status(cp, 'kept-okx')}")
    cp.kubectl("delete", "secret", name, "-n", NS)

    def degraded() -> dict[str, Any]:
        return condition(get(cp, "edge", "kept-okx", NS), "Degraded")

    wait_until(lambda: degraded().get("reason") == "WrappingKeysSecretLost", 30, interval=0.2,
               what=f"WrappingKeysSecretLost; Degraded: {degraded()}")
    assert degraded()["status"] == "True" and name in degraded()["message"] and key_id in degraded()["message"]
    after_resyncs()
    assert secret(cp, name) is None
    # Starting over is a deliberate act: the Edge deleted and applied again gets a new key.
    delete(cp, "edge", "kept-okx")
    apply(cp, NS, edge("kept-okx", "kept", venue="okx", simulatorDialect="okx"))
    wait_until(lambda: secret(cp, name) is not None, 60, interval=0.2, what=f"a new Secret {name}")
    assert list(keys_of(secret(cp, name)).values()) != [key_id]


def test_an_edge_naming_its_own_secret(operator: Operator) -> None:
    cp = operator.cp
    apply(cp, NS, region("own", retain=False),
          edge("own-kraken", "own", venue="kraken", wrappingKeysSecret="kraken-wrapping"))

    def ready() -> dict[str, Any]:
        return condition(get(cp, "edge", "own-kraken", NS), "Ready")

    wait_until(lambda: ready().get("reason") == "WrappingKeysSecretNotFound", 60, interval=0.2,
               what=f"a condition naming the missing Secret; Ready: {ready()}")
    assert "'kraken-wrapping'" in ready()["message"] and "spec.wrappingKeysSecret" in ready()["message"]
    assert condition(get(cp, "edge", "own-kraken", NS), "Degraded")["status"] == "False"  # it waits
    pod = pod_template(cp, "kraken", "own")
    assert next(v for v in pod["volumes"] if v["name"] == "wrapping-keys")["secret"]["secretName"] == "kraken-wrapping"
    # A Secret without a usable key: Degraded, saying so.
    cp.kubectl("create", "secret", "generic", "kraken-wrapping", "-n", NS, "--from-literal=0001.pem=not a key")
    wait_until(lambda: ready().get("reason") == "InvalidWrappingKeys", 60, interval=0.2,
               what=f"InvalidWrappingKeys; Ready: {ready()}")
    assert "0001.pem" in ready()["message"]
    assert condition(get(cp, "edge", "own-kraken", NS), "Degraded")["status"] == "True"
    # A real key: the edge waits for its pod like any other, and the operator never writes the Secret
    # (a rotation asked for on the Edge is the owner's to do) nor makes one of its own for the venue.
    pem = WrappingKey.generate().to_pem().decode()
    patch = {"data": {"0001.pem": base64.b64encode(pem.encode()).decode()}}
    cp.kubectl("patch", "secret", "kraken-wrapping", "-n", NS, "--type=merge", "-p", json.dumps(patch))
    wait_until(lambda: ready().get("reason") == "PodNotReady", 60, interval=0.2, what=f"PodNotReady; Ready: {ready()}")
    mine = secret(cp, "kraken-wrapping")
    cp.kubectl("annotate", "edge", "own-kraken", "-n", NS, f"{ROTATE}=r1")
    after_resyncs()
    assert secret(cp, "kraken-wrapping") == mine
    assert secret(cp, "seqmesh-own-kraken-wrapping") is None
    assert edge_status(cp, "own-kraken")["wrappingKeysSecret"] == "kraken-wrapping"


def test_rotation_adds_a_key_once_per_request_and_keeps_the_old(operator: Operator) -> None:
    cp = operator.cp
    apply(cp, NS, region("rot", retain=False), edge("rot-bitmart", "rot", venue="bitmart"))
    name = "seqmesh-rot-bitmart-wrapping"
    wait_until(lambda: secret(cp, name) is not None, 60, interval=0.2, what=f"Secret {name}")
    first = keys_of(secret(cp, name))
    cp.kubectl("annotate", "edge", "rot-bitmart", "-n", NS, f"{ROTATE}=2026-12-07")
    wait_until(lambda: len(keys_of(secret(cp, name))) == 2, 30, interval=0.2,
               what=f"a second key; files: {list(keys_of(secret(cp, name)))}")
    rotated = secret(cp, name)
    keys = keys_of(rotated)
    assert list(keys) == ["0001.pem", "0002.pem"] and keys["0001.pem"] == first["0001.pem"]
    assert keys["0002.pem"] != first["0001.pem"]
    assert json.loads(rotated["metadata"]["annotations"]["seqmesh.io/wrapping-key-rotations"]) == {  # type: ignore[index]
        "2026-12-07": "0002.pem"}
    wait_until(lambda: edge_status(cp, "rot-bitmart").get("wrappingKeyIds") == list(keys.values()), 30,
               interval=0.2, what=f"both key ids in the Edge's status: {edge_status(cp, 'rot-bitmart')}")
    # The request stays on the Edge: resyncs and a restart do not rotate again.
    after_resyncs()
    operator.stop()
    operator.start()
    after_resyncs()
    assert secret(cp, name) == rotated
    # A new request value rotates again, keeping both older keys.
    cp.kubectl("annotate", "--overwrite", "edge", "rot-bitmart", "-n", NS, f"{ROTATE}=second")
    wait_until(lambda: len(keys_of(secret(cp, name))) == 3, 30, interval=0.2, what="a third key")
    keys = keys_of(secret(cp, name))
    assert list(keys) == ["0001.pem", "0002.pem", "0003.pem"] and \
        (keys["0001.pem"], keys["0002.pem"]) == (first["0001.pem"], keys_of(rotated)["0002.pem"])


def test_rotations_racing_on_one_secret_lose_no_key(operator: Operator) -> None:
    """Two Edges of a venue asking at once: each rotation patches on the Secret's resourceVersion,
    so the one that read it first and writes second is refused by the API server and reads again."""
    from seqmesh.operator import kube, wrapping

    cp = operator.cp
    apply(cp, NS, region("race", retain=False), edge("race-binance", "race"))
    name = "seqmesh-race-binance-wrapping"
    wait_until(lambda: secret(cp, name) is not None, 60, interval=0.2, what=f"Secret {name}")
    stale = kube.get("v1", "Secret", name, NS)
    assert stale is not None
    second = keys_of(wrapping.rotate(stale, "a"))["0002.pem"]
    # The same request from the stale copy: refused, read again, found done (0002.pem not rewritten).
    assert keys_of(wrapping.rotate(stale, "a")) == {**keys_of(stale), "0002.pem": second}
    # Another request from the stale copy: refused, read again, a third key after the second.
    after = wrapping.rotate(stale, "b")
    assert wrapping.rotations(after) == {"a": "0002.pem", "b": "0003.pem"}
    assert list(keys_of(after)) == ["0001.pem", "0002.pem", "0003.pem"] and keys_of(after)["0002.pem"] == second
    assert keys_of(secret(cp, name)) == keys_of(after)
