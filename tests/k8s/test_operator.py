"""The operator (kopf, in this process) against the real API server: apply the examples, check
every child, update, rotate, refuse, degrade and garbage-collect."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509

from seqmesh.common.certs import identity_of
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.kube import condition, get, wait_ready
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s
REPO = Path(__file__).resolve().parents[2]
NS = "default"


def test_examples_create_a_region_with_edges_and_an_algo(operator: ControlPlane) -> None:
    cp = operator
    cp.kubectl("apply", "-f", str(REPO / "examples" / "manifests"))
    region = wait_ready(cp, "region", "na")
    assert region["status"]["edges"] == 2
    for name in ("na-coinbase", "na-solana"):
        wait_ready(cp, "edge", name)
    algo = wait_ready(cp, "algo", "market-maker")
    assert algo["status"]["state"] == "Running" and algo["status"]["edges"] == 1 and algo["status"]["ready"]
    # Region's children, owned by it.
    uid = region["metadata"]["uid"]
    for kind, name in (("secret", "seqmesh-na-ca"), ("secret", "seqmesh-na-cc-tls"),
                       ("configmap", "seqmesh-na-cc-config"), ("deployment", "seqmesh-na-cc"),
                       ("service", "seqmesh-na-api"), ("service", "seqmesh-na-peer")):
        obj = get(cp, kind, name)
        assert obj is not None, f"{kind}/{name} missing"
        assert obj["metadata"]["ownerReferences"][0]["uid"] == uid
    config = json.loads(get(cp, "configmap", "seqmesh-na-cc-config")["data"]["config.json"])  # type: ignore[index]
    assert [e["venue"] for e in config["edges"]] == ["coinbase", "solana"]
    assert config["edges"][0]["address"] == "seqmesh-na-edge-coinbase.default.svc:50051"
    assert [p["region"] for p in config["peers"]] == ["eu"]
    # The CC watches this namespace's Algo ConfigMaps, as its own ServiceAccount with a narrow Role.
    assert config["watch_algos_namespace"] == NS and config["durability"] == "power-loss"
    role = get(cp, "role", "seqmesh-na-cc")
    assert role is not None and role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "patch"]}]
    cc = get(cp, "deployment", "seqmesh-na-cc")
    pod = cc["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["args"][:3] == ["cc", "--config", "/etc/seqmesh/config/config.json"]
    # Certificates: the CC's and the edge's leaves chain to the region CA and name region and role.
    ca = x509.load_pem_x509_certificate(base64.b64decode(get(cp, "secret", "seqmesh-na-ca")["data"]["tls.crt"]))  # type: ignore[index]
    for secret, role in (("seqmesh-na-cc-tls", "cc"), ("seqmesh-na-edge-coinbase-tls", "edge")):
        leaf = x509.load_pem_x509_certificate(base64.b64decode(get(cp, "secret", secret)["data"]["tls.crt"]))  # type: ignore[index]
        leaf.verify_directly_issued_by(ca)
        ident = identity_of(leaf)
        assert ident is not None and ident.region == "na" and ident.role == role
    # The edge: Deployment and Service, credentials from the referenced Secret.
    edge = get(cp, "deployment", "seqmesh-na-edge-coinbase")
    env = {e["name"]: e for e in edge["spec"]["template"]["spec"]["containers"][0]["env"]}  # type: ignore[index]
    assert env["SEQMESH_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "coinbase-credentials"
    args = edge["spec"]["template"]["spec"]["containers"][0]["args"]  # type: ignore[index]
    assert args[args.index("--durability") + 1] == "power-loss"
    assert get(cp, "service", "seqmesh-na-edge-coinbase") is not None
    # The algo's ConfigMap, labelled for the CC's watch, with the binary.
    cm = get(cp, "configmap", "seqmesh-algo-market-maker")
    assert cm is not None and cm["metadata"]["labels"]["seqmesh.io/algo"] == "market-maker"
    assert base64.b64decode(cm["binaryData"]["algo.wasm"]) == b"\0asm\x01\0\0\0"
    assert json.loads(cm["data"]["edges"]) == ["na-coinbase"]
    # Printer columns.
    table = cp.kubectl("get", "algos", "-n", NS).stdout
    assert "STATE" in table and "EDGES" in table and "READY" in table and "Running" in table


def test_no_update_loops(operator: ControlPlane) -> None:
    cp = operator
    wait_ready(cp, "algo", "market-maker")
    watched = [("algo", "market-maker"), ("region", "na"), ("configmap", "seqmesh-algo-market-maker"),
               ("deployment", "seqmesh-na-cc"), ("secret", "seqmesh-na-cc-tls"), ("configmap", "seqmesh-na-cc-config")]
    before = {k: get(cp, *k)["metadata"]["resourceVersion"] for k in watched}  # type: ignore[index]
    # Several resync periods (2 s each) later, nothing was rewritten.
    import time

    time.sleep(7)
    after = {k: get(cp, *k)["metadata"]["resourceVersion"] for k in watched}  # type: ignore[index]
    assert after == before


def test_changing_the_binary_updates_configmap_and_generation(operator: ControlPlane) -> None:
    cp = operator
    new = b"\0asm\x01\0\0\0" + b"\0\x05\x04seqm"  # a custom section makes a different valid module
    patch = {"spec": {"wasm": base64.b64encode(new).decode()}}
    cp.kubectl("patch", "algo", "market-maker", "-n", NS, "--type=merge", "-p", json.dumps(patch))
    algo = wait_ready(cp, "algo", "market-maker")
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
    wait_ready(cp, "region", "rot")

    def serial() -> int:
        data = get(cp, "secret", "seqmesh-rot-cc-tls")["data"]["tls.crt"]  # type: ignore[index]
        return x509.load_pem_x509_certificate(base64.b64decode(data)).serial_number

    first = serial()
    wait_until(lambda: serial() != first, 30, interval=0.5, what="the CC certificate to be renewed")
    leaf = x509.load_pem_x509_certificate(base64.b64decode(get(cp, "secret", "seqmesh-rot-cc-tls")["data"]["tls.crt"]))  # type: ignore[index]
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() <= 12 + 300


def test_deleting_a_region_garbage_collects_its_children(operator: ControlPlane) -> None:
    cp = operator
    region = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "metadata": {"name": "gone"},
              "spec": {"region": "gone"}}
    cp.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(region))
    wait_ready(cp, "region", "gone")
    children = [("deployment", "seqmesh-gone-cc"), ("service", "seqmesh-gone-api"),
                ("service", "seqmesh-gone-peer"), ("configmap", "seqmesh-gone-cc-config"),
                ("secret", "seqmesh-gone-ca"), ("secret", "seqmesh-gone-cc-tls")]
    assert all(get(cp, *c) is not None for c in children)
    cp.kubectl("delete", "region", "gone", "-n", NS)
    wait_until(lambda: all(get(cp, *c) is None for c in children), 60, interval=0.5,
               what="garbage collection of the region's children")
