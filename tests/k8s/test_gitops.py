"""examples/gitops as a GitOps tool applies it: `kubectl apply -k` of each region's overlay,
the operator levels everything, and `kubectl diff -k` then shows no drift (the operator
writes only status; server-side defaults are not drift), through several resyncs."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from seqmesh.common.certs import make_ca
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.kube import condition, get, wait_reconciled
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s
GITOPS = Path(__file__).resolve().parents[2] / "examples" / "gitops"
REGIONS = ("na", "eu", "ap")
EDGES = {"na": ("coinbase", "solana"), "eu": ("kraken", "bitmart"), "ap": ("binance", "okx")}


def placeholder(region: str) -> str:
    return (f"    -----BEGIN CERTIFICATE-----\n    replace with the {region} region's CA certificate\n"
            f"    -----END CERTIFICATE-----\n")


def peers(cp: ControlPlane, region: str) -> list[dict[str, Any]]:
    cm = get(cp, "configmap", f"seqmesh-{region}-cc-config", f"seqmesh-{region}")
    out: list[dict[str, Any]] = json.loads(cm["data"]["config.json"])["peers"] if cm else []
    return out


def test_apply_k_then_diff_k_shows_no_drift(operator: ControlPlane, tmp_path: Path) -> None:
    cp = operator
    tree = tmp_path / "gitops"
    shutil.copytree(GITOPS, tree)
    cas = {r: make_ca(f"seqmesh {r} CA") for r in REGIONS}
    for region in REGIONS:  # what a user commits: the other regions' CA certificates
        links = tree / "overlays" / region / "peerlinks.yaml"
        text = links.read_text()
        for other in REGIONS:
            pem = "".join(f"    {line}\n" for line in cas[other].cert_pem.decode().splitlines())
            text = text.replace(placeholder(other), pem)
        assert "replace with" not in text
        links.write_text(text)
    for region in REGIONS:  # and what is not in Git: the Secrets
        namespace = f"seqmesh-{region}"
        cp.create_namespace(namespace)
        (tmp_path / f"{region}.crt").write_bytes(cas[region].cert_pem)
        (tmp_path / f"{region}.key").write_bytes(cas[region].key_pem)
        cp.kubectl("create", "secret", "tls", "seqmesh-region-ca", "-n", namespace,
                   f"--cert={tmp_path / f'{region}.crt'}", f"--key={tmp_path / f'{region}.key'}")
        cp.kubectl("create", "secret", "generic", "seqmesh-api-keys", "-n", namespace, "--from-literal=alice=k")
    try:
        for region in REGIONS:
            cp.kubectl("apply", "-k", str(tree / "overlays" / region))
        for region in REGIONS:
            namespace = f"seqmesh-{region}"
            rg = wait_reconciled(cp, "region", "seqmesh", timeout=180, namespace=namespace)
            assert rg["spec"]["region"] == region and rg["spec"]["apiPort"] == 8000  # defaulted by the server
            assert condition(rg, "Degraded")["status"] == "False", condition(rg, "Degraded")
            for venue in EDGES[region]:
                wait_reconciled(cp, "edge", f"{region}-{venue}", timeout=180, namespace=namespace)
            for other in (o for o in REGIONS if o != region):
                link = wait_reconciled(cp, "peerlink", f"{region}-to-{other}", timeout=180, namespace=namespace)
                assert condition(link, "Degraded")["status"] == "False", condition(link, "Degraded")
            # The brought CA signs the CC's certificate; the operator made no CA of its own.
            assert get(cp, "secret", f"seqmesh-{region}-ca", namespace) is None
            assert rg["status"]["caSecret"] == "seqmesh-region-ca"
            wait_until(lambda r=region: len(peers(cp, r)) == 2, 120, interval=0.3, what=f"both of {region}'s peers")

        def drift(region: str) -> str:
            r = cp.kubectl("diff", "-k", str(tree / "overlays" / region), check=False)
            assert r.returncode in (0, 1), r.stderr
            return r.stdout

        for region in REGIONS:
            assert drift(region) == "", f"drift in {region}:\n{drift(region)}"
        time.sleep(5)  # a few of the operator's resync periods (2 s here): it still writes nothing the diff sees
        for region in REGIONS:
            assert drift(region) == "", f"drift in {region} after resyncs:\n{drift(region)}"
    finally:
        for region in REGIONS:
            cp.kubectl("delete", "-k", str(tree / "overlays" / region), "--wait=false", check=False)
        # Gone while this module's operator still runs to remove its finalizers: later modules
        # install into the same namespaces.
        for region in REGIONS:
            cp.kubectl("wait", "--for=delete", f"namespace/seqmesh-{region}", "--timeout=120s", check=False,
                       timeout=150)
