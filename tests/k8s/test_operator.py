"""The operator (kopf, in this process) against the real API server: apply the examples, check
every child, update, rotate, refuse, degrade and garbage-collect."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from seqmesh.common.certs import identity_of, make_ca
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.kube import condition, get, wait_reconciled
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s
REPO = Path(__file__).resolve().parents[2]
NS = "default"


def published(cp: ControlPlane, name: str) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def done() -> bool:
        box["o"] = get(cp, "algo", name)
        return condition(box["o"], "Published").get("status") == "True" and \
            box["o"]["status"]["observedGeneration"] == box["o"]["metadata"]["generation"]

    wait_until(done, 60, interval=0.2, what=f"algo/{name} published")
    out: dict[str, Any] = box["o"]
    return out


def test_examples_create_a_region_with_edges_and_an_algo(operator: ControlPlane, tmp_path: Path) -> None:
    cp = operator
    cp.kubectl("apply", "-f", str(REPO / "examples" / "manifests"))
    # The Region names a keys Secret that is not there yet: it says so, and is not Degraded for it.
    region = wait_reconciled(cp, "region", "na")
    assert condition(region, "Ready")["reason"] == "APIKeysSecretNotFound"
    cp.kubectl("create", "secret", "generic", "seqmesh-api-keys", "-n", NS, "--from-literal=alice=k-alice")
    wait_until(lambda: condition(get(cp, "region", "na"), "Ready").get("reason") == "PodNotReady", 30,
               interval=0.2, what="the region to wait for its pod instead")
    region = wait_reconciled(cp, "region", "na")
    assert region["status"]["edges"] == 2
    # No kubelet in this cluster: not Ready (its pod is Pending), and not Degraded either.
    assert condition(region, "Ready")["status"] == "False" and condition(region, "Degraded")["status"] == "False"
    for name in ("na-coinbase", "na-solana"):
        wait_reconciled(cp, "edge", name)
        # An Edge reconciled before its Region existed says RegionNotFound until its next resync
        # (level-based: every few seconds here) finds the Region and waits for its pod instead.
        wait_until(lambda name=name: condition(get(cp, "edge", name), "Ready").get("reason") == "PodNotReady",
                   30, interval=0.2, what=f"edge {name} waiting for its pod")
    algo = published(cp, "market-maker")
    assert algo["status"]["state"] == "Running" and algo["status"]["edges"] == 1
    # Ready means running on its edges; no CC runs here, so it waits (progressing, not Degraded).
    assert not algo["status"]["ready"] and condition(algo, "Ready")["reason"] == "Pending"
    assert condition(algo, "Degraded")["status"] == "False"
    # The example PeerLink's CA bundle is a placeholder: refused, and kept out of the CC.
    link = wait_reconciled(cp, "peerlink", "na-to-eu")
    assert condition(link, "Degraded")["reason"] == "InvalidCABundle"
    # Region's children, owned by it.
    uid = region["metadata"]["uid"]
    for kind, name in (("secret", "seqmesh-na-ca"), ("secret", "seqmesh-na-cc-tls"),
                       ("configmap", "seqmesh-na-cc-config"), ("statefulset", "seqmesh-na-cc"),
                       ("service", "seqmesh-na-api"), ("service", "seqmesh-na-peer")):
        obj = get(cp, kind, name)
        assert obj is not None, f"{kind}/{name} missing"
        assert obj["metadata"]["ownerReferences"][0]["uid"] == uid
    config = json.loads(get(cp, "configmap", "seqmesh-na-cc-config")["data"]["config.json"])  # type: ignore[index]
    assert [e["venue"] for e in config["edges"]] == ["coinbase", "solana"]
    assert config["edges"][0]["address"] == "seqmesh-na-edge-coinbase.default.svc:50051"
    assert config["peers"] == [] and config["listen_peer"] == "0.0.0.0:50061"
    assert config["require_api_keys"] is True
    # The CC watches this namespace's Algo ConfigMaps, as its own ServiceAccount with a narrow Role.
    assert config["watch_algos_namespace"] == NS and config["durability"] == "power-loss"
    role = get(cp, "role", "seqmesh-na-cc")
    assert role is not None and role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "patch"]}]
    cc = get(cp, "statefulset", "seqmesh-na-cc")
    pod = cc["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["args"][:3] == ["cc", "--config", "/etc/seqmesh/config/config.json"]
    # The REST API is HTTPS (the kubelet's probe does not check the certificate).
    assert pod["containers"][0]["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000, "scheme": "HTTPS"}
    # One CC, its ledger on a claim the StatefulSet made (a Pending pod still gets its claim).
    assert cc["spec"]["replicas"] == 1  # type: ignore[index]
    wait_until(lambda: get(cp, "pvc", "state-seqmesh-na-cc-0") is not None, 30, interval=0.2, what="the CC's claim")
    # Certificates: the CC's and the edge's leaves chain to the region CA and name region and role.
    ca = x509.load_pem_x509_certificate(base64.b64decode(get(cp, "secret", "seqmesh-na-ca")["data"]["tls.crt"]))  # type: ignore[index]
    for secret, role_name in (("seqmesh-na-cc-tls", "cc"), ("seqmesh-na-edge-coinbase-tls", "edge")):
        leaf = x509.load_pem_x509_certificate(base64.b64decode(get(cp, "secret", secret)["data"]["tls.crt"]))  # type: ignore[index]
        leaf.verify_directly_issued_by(ca)
        ident = identity_of(leaf)
        assert ident is not None and ident.region == "na" and ident.role == role_name
    # The edge: StatefulSet and Service, credentials from the referenced Secret, journal on a claim.
    edge_sts = get(cp, "statefulset", "seqmesh-na-edge-coinbase")
    container = edge_sts["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    env = {e["name"]: e for e in container["env"]}
    assert env["SEQMESH_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "coinbase-credentials"
    args = container["args"]
    assert args[args.index("--durability") + 1] == "power-loss"
    assert container["readinessProbe"]["tcpSocket"] == {"port": 50051}
    assert get(cp, "service", "seqmesh-na-edge-coinbase") is not None
    wait_until(lambda: get(cp, "pvc", "state-seqmesh-na-edge-coinbase-0") is not None, 30, interval=0.2,
               what="the edge's claim")
    # The algo's ConfigMap, labelled for the CC's watch, with the binary.
    cm = get(cp, "configmap", "seqmesh-algo-market-maker")
    assert cm is not None and cm["metadata"]["labels"]["seqmesh.io/algo"] == "market-maker"
    assert base64.b64decode(cm["binaryData"]["algo.wasm"]) == b"\0asm\x01\0\0\0"
    assert json.loads(cm["data"]["edges"]) == ["na-coinbase"]
    # Printer columns.
    table = cp.kubectl("get", "algos", "-n", NS).stdout
    assert "STATE" in table and "EDGES" in table and "READY" in table and "Running" in table


def test_kubectl_wait_understands_the_conditions(operator: ControlPlane) -> None:
    """What a GitOps tool or a script waits on: `kubectl wait --for=condition=...`."""
    cp = operator
    out = cp.kubectl("wait", "--for=condition=Degraded", "peerlink/na-to-eu", "-n", NS, "--timeout=30s")
    assert "condition met" in out.stdout
    out = cp.kubectl("wait", "--for=condition=Published", "algo/market-maker", "-n", NS, "--timeout=30s")
    assert "condition met" in out.stdout
    # Not Ready without a node: kubectl wait times out rather than pretending.
    r = cp.kubectl("wait", "--for=condition=Ready", "region/na", "-n", NS, "--timeout=2s", check=False)
    assert r.returncode != 0 and "timed out" in r.stderr


def test_a_peerlink_with_a_real_ca_reaches_the_cc(operator: ControlPlane) -> None:
    cp = operator
    eu_ca = make_ca("seqmesh eu CA")
    link = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "PeerLink", "metadata": {"name": "na-to-ap"},
            "spec": {"region": "na", "remoteRegion": "ap", "endpoint": "cc-peer.ap.seqmesh.example:50061",
                     "rttProbeSeconds": 3, "caBundle": eu_ca.cert_pem.decode()}}
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(link))
    wait_until(lambda: json.loads(get(cp, "configmap", "seqmesh-na-cc-config")["data"]["config.json"])  # type: ignore[index]
               ["peers"] != [], 30, interval=0.2, what="the peer in the CC's configuration")
    config = json.loads(get(cp, "configmap", "seqmesh-na-cc-config")["data"]["config.json"])  # type: ignore[index]
    assert config["peers"] == [{"region": "ap", "endpoint": "cc-peer.ap.seqmesh.example:50061",
                                "ca": "/etc/seqmesh/peers/ap.crt"}]
    assert config["peer_probe_s"] == 3
    cm = get(cp, "configmap", "seqmesh-na-peer-ap")
    assert cm is not None and cm["data"]["ca.crt"] == eu_ca.cert_pem.decode()
    wait_until(lambda: any(v["name"] == "peer-cas" for v in get(cp, "statefulset", "seqmesh-na-cc")  # type: ignore[index]
                           ["spec"]["template"]["spec"]["volumes"]), 30, interval=0.2, what="the peer CA volume")
    # Deleting the PeerLink takes the peer out of the CC's configuration again.
    cp.kubectl("delete", "peerlink", "na-to-ap", "-n", NS, "--timeout=30s")
    wait_until(lambda: json.loads(get(cp, "configmap", "seqmesh-na-cc-config")["data"]["config.json"])  # type: ignore[index]
               ["peers"] == [], 30, interval=0.2, what="the peer gone from the CC's configuration")


def test_a_deletion_is_not_held_by_a_resync_in_flight(operator: ControlPlane) -> None:
    """kopf keeps its finalizer until the object's resync timer has exited. Deleted while the
    timer's handler runs, the timer cannot exit at once, and kopf looked again only after its
    default polling of 60 s: the object lingered a minute. Eight PeerLinks, each resynced every
    2 s (each resync levels the region), deleted at once: some are mid-resync; all go in seconds."""
    cp = operator
    ca = make_ca("seqmesh xx CA").cert_pem.decode()
    links = [{"apiVersion": "seqmesh.io/v1alpha1", "kind": "PeerLink",
              "metadata": {"name": f"na-to-x{i}", "labels": {"test": "deletion"}},
              "spec": {"region": "na", "remoteRegion": f"x{i}", "endpoint": f"x{i}.example:50061", "caBundle": ca}}
             for i in range(8)]
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": links}))
    for link in links:
        wait_reconciled(cp, "peerlink", link["metadata"]["name"])
    time.sleep(3)  # the timers run (their first after one interval)
    cp.kubectl("delete", "peerlink", "-l", "test=deletion", "-n", NS, "--wait=false")

    def left() -> str:
        return cp.kubectl("get", "peerlink", "-l", "test=deletion", "-n", NS, "-o", "name").stdout.strip()

    # Not a speed bound: held, they would stay at least kopf's 60 s. Gone, they take ~5 s on a quiet
    # machine and were seen to take 25 s under CI's load; 50 s tells the two apart.
    wait_until(lambda: left() == "", 50, interval=0.2, what="the PeerLinks gone before kopf's 60 s poll")


def applied() -> dict[tuple[str, ...], float]:
    """The operator's seqmesh_operator_objects_applied counters (it runs in this process)."""
    from seqmesh.operator.metrics import APPLIED

    return {tuple(s.labels.values()): s.value for m in APPLIED.collect() for s in m.samples
            if s.name.endswith("_total")}


def test_no_update_loops(operator: ControlPlane) -> None:
    cp = operator
    published(cp, "market-maker")
    watched = [("algo", "market-maker"), ("region", "na"), ("configmap", "seqmesh-algo-market-maker"),
               ("statefulset", "seqmesh-na-cc"), ("statefulset", "seqmesh-na-edge-coinbase"),
               ("secret", "seqmesh-na-cc-tls"), ("configmap", "seqmesh-na-cc-config")]
    before = {k: get(cp, *k)["metadata"]["resourceVersion"] for k in watched}  # type: ignore[index]
    applied_before = applied()
    # Several resync periods (2 s each) later, nothing was rewritten, nor even re-applied:
    # every live object already contains what the operator wants (server defaults included).
    time.sleep(7)
    after = {k: get(cp, *k)["metadata"]["resourceVersion"] for k in watched}  # type: ignore[index]
    assert after == before
    assert applied() == applied_before


def test_changing_the_binary_updates_configmap_and_generation(operator: ControlPlane) -> None:
    cp = operator
    new = b"\0asm\x01\0\0\0" + b"\0\x05\x04seqm"  # a custom section makes a different valid module
    patch = {"spec": {"wasm": base64.b64encode(new).decode()}}
    cp.kubectl("patch", "algo", "market-maker", "-n", NS, "--type=merge", "-p", json.dumps(patch))
    algo = published(cp, "market-maker")
    assert algo["metadata"]["generation"] >= 2 and algo["status"]["size"] == len(new)
    wait_until(lambda: base64.b64decode(get(cp, "configmap", "seqmesh-algo-market-maker")  # type: ignore[index]
                                        ["binaryData"]["algo.wasm"]) == new, 30, what="ConfigMap updated")


def test_invalid_manifests_are_refused_naming_the_field(operator: ControlPlane) -> None:
    cp = operator
    bad_edge = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Edge", "metadata": {"name": "bad-edge"},
                "spec": {"region": "na", "venue": "nasdaq", "symbols": ["BTC/USDT"]}}
    r = cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(bad_edge), check=False)
    assert r.returncode != 0 and "spec.venue" in r.stderr and "nasdaq" in r.stderr
    bad_algo = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Algo", "metadata": {"name": "bad-algo"},
                "spec": {"region": "na", "edges": ["na-coinbase"], "state": "Paused", "wasm": "AGFzbQEAAAA="}}
    r = cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(bad_algo), check=False)
    assert r.returncode != 0 and "spec.state" in r.stderr
    no_symbols = {**bad_edge, "spec": {"region": "na", "venue": "kraken", "symbols": []}}
    r = cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(no_symbols), check=False)
    assert r.returncode != 0 and "spec.symbols" in r.stderr


def test_a_bad_binary_gives_a_degraded_condition(operator: ControlPlane) -> None:
    cp = operator
    algo = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Algo", "metadata": {"name": "not-wasm"},
            "spec": {"region": "na", "edges": ["na-coinbase"],
                     "wasm": base64.b64encode(b"#!/bin/sh\nrm -rf /").decode()}}
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(algo))
    wait_until(lambda: condition(get(cp, "algo", "not-wasm"), "Degraded").get("status") == "True", 30,
               what="Degraded condition")
    obj = get(cp, "algo", "not-wasm")
    assert condition(obj, "Degraded")["reason"] == "NotWasm" and "magic" in condition(obj, "Degraded")["message"]
    assert condition(obj, "Ready")["status"] == "False"
    assert get(cp, "configmap", "seqmesh-algo-not-wasm") is None


def test_certificates_rotate_at_two_thirds_of_their_lifetime(operator: ControlPlane) -> None:
    cp = operator
    region = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "metadata": {"name": "rot"},
              "spec": {"region": "rot", "certificateLifetimeSeconds": 12}}
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(region))
    wait_reconciled(cp, "region", "rot")

    def serial() -> int:
        data = get(cp, "secret", "seqmesh-rot-cc-tls")["data"]["tls.crt"]  # type: ignore[index]
        return x509.load_pem_x509_certificate(base64.b64decode(data)).serial_number

    def pod_template() -> Any:
        return get(cp, "statefulset", "seqmesh-rot-cc")["spec"]["template"]  # type: ignore[index]

    first, template = serial(), pod_template()
    wait_until(lambda: serial() != first, 30, interval=0.5, what="the CC certificate to be renewed")
    # The CC reloads the Secret's rotated files: a renewal does not roll its pod.
    assert pod_template() == template
    leaf = x509.load_pem_x509_certificate(base64.b64decode(get(cp, "secret", "seqmesh-rot-cc-tls")["data"]["tls.crt"]))  # type: ignore[index]
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() <= 12 + 300


def test_deleting_a_region_garbage_collects_its_children(operator: ControlPlane) -> None:
    cp = operator
    region = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "metadata": {"name": "gone"},
              "spec": {"region": "gone", "apiKeysSecret": "seqmesh-api-keys", "storage": {"retainOnDelete": False}}}
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(region))
    body = wait_reconciled(cp, "region", "gone")
    # What an operator before StatefulSets made (a Deployment of the CC) is removed: one CC per region.
    legacy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "seqmesh-gone-cc", "ownerReferences": [{"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region",
                                                        "name": "gone", "uid": body["metadata"]["uid"]}]},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(legacy))
    wait_until(lambda: get(cp, "deployment", "seqmesh-gone-cc") is None, 30, interval=0.2,
               what="the legacy Deployment removed")
    children = [("statefulset", "seqmesh-gone-cc"), ("service", "seqmesh-gone-api"),
                ("service", "seqmesh-gone-peer"), ("configmap", "seqmesh-gone-cc-config"),
                ("secret", "seqmesh-gone-ca"), ("secret", "seqmesh-gone-cc-tls")]
    assert all(get(cp, *c) is not None for c in children)
    assert get(cp, "statefulset", "seqmesh-gone-cc")["spec"][  # type: ignore[index]
        "persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    wait_until(lambda: get(cp, "pvc", "state-seqmesh-gone-cc-0") is not None, 30, interval=0.2, what="the claim")
    cp.kubectl("delete", "region", "gone", "-n", NS)
    # retainOnDelete: false -> the claim goes too (the StatefulSet controller made it owned by the StatefulSet).
    wait_until(lambda: all(get(cp, *c) is None for c in [*children, ("pvc", "state-seqmesh-gone-cc-0")]), 60,
               interval=0.5, what="garbage collection of the region's children and its claim")
