"""The Helm chart as users install it: lint-clean for every region's values, accepted by the
real API server, and really installed (one release per region, each in its own namespace with
its own CA), upgraded with the PeerLinks between them, and uninstalled leaving the claims.

No kubelet runs in this cluster, so the pods stay Pending: what the operator made is checked
object by object, and the three CCs are then run as local processes from exactly what their
pods would get (configuration, certificates, peer CAs, API keys; only the addresses moved to
loopback) and must form the mTLS peer mesh.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509

from seqmesh.common.certs import identity_of
from seqmesh.devcluster.controlplane import ControlPlane, free_port
from seqmesh.testing.kube import condition, get, wait_reconciled
from seqmesh.testing.podlocal import materialise, run
from seqmesh.testing.processes import Proc, wait_until

pytestmark = pytest.mark.k8s
CHART = Path(__file__).resolve().parents[2] / "charts" / "seqmesh"
VALUES = ["", "values-na.yaml", "values-eu.yaml", "values-ap.yaml"]
REGIONS = ("na", "eu", "ap")


@pytest.mark.parametrize("values", VALUES)
def test_lint_strict(k8s_cluster: ControlPlane, values: str) -> None:
    args = ["lint", "--strict", str(CHART)] + (["-f", str(CHART / values)] if values else [])
    out = k8s_cluster.helm(*args)
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("values", VALUES)
def test_template_is_accepted_by_the_api_server(k8s_cluster: ControlPlane, values: str) -> None:
    k8s_cluster.kubectl("apply", "--server-side", "-f", str(CHART.parents[1] / "crds"))
    k8s_cluster.wait_established("regions.seqmesh.io")
    args = ["template", "seqmesh", str(CHART), "--namespace", "default", "--kube-version", "v1.34.4"]
    args += ["-f", str(CHART / values)] if values else []
    rendered = k8s_cluster.helm(*args).stdout
    out = k8s_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered)
    assert "deployment.apps/seqmesh-operator created (server dry run)" in out.stdout
    if values:
        assert "region.seqmesh.io/" in out.stdout and "edge.seqmesh.io/" in out.stdout


def test_schema_refuses_bad_values(k8s_cluster: ControlPlane, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("edges:\n  - {venue: nasdaq, symbols: [BTC/USDT]}\n")
    out = k8s_cluster.helm("template", "x", str(CHART), "--kube-version", "v1.34.4", "-f", str(bad), check=False)
    assert out.returncode != 0 and "venue" in out.stderr
    bad.write_text("region: {enabled: true, storage: {ccSize: lots}}\n")
    out = k8s_cluster.helm("template", "x", str(CHART), "--kube-version", "v1.34.4", "-f", str(bad), check=False)
    assert out.returncode != 0 and "ccSize" in out.stderr


# -- three regions, really installed ------------------------------------------------------

def ns(region: str) -> str:
    return f"seqmesh-{region}"


def obj(cp: ControlPlane, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    return get(cp, kind, name, namespace)


def reconciled(cp: ControlPlane, kind: str, name: str, namespace: str) -> dict[str, Any]:
    return wait_reconciled(cp, kind, name, namespace=namespace)


def cc_config(cp: ControlPlane, region: str) -> dict[str, Any]:
    cm = obj(cp, "configmap", f"seqmesh-{region}-cc-config", ns(region))
    assert cm is not None
    out: dict[str, Any] = json.loads(cm["data"]["config.json"])
    return out


def ca_pem(cp: ControlPlane, region: str) -> str:
    secret = obj(cp, "secret", f"seqmesh-{region}-ca", ns(region))
    assert secret is not None
    return base64.b64decode(secret["data"]["tls.crt"]).decode()


def peer_values(cp: ControlPlane, region: str, probe_s: int) -> list[dict[str, Any]]:
    return [{"remoteRegion": other, "endpoint": f"seqmesh-{other}-peer.{ns(other)}.svc:50061",
             "caBundle": ca_pem(cp, other), "rttProbeSeconds": probe_s + i}
            for i, other in enumerate(o for o in REGIONS if o != region)]


@pytest.fixture(scope="module")
def three_regions(operator: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`helm install` of values-na/eu/ap (each its own namespace and CA), then `helm upgrade`
    with PeerLinks carrying the other regions' real CAs; returns each region's client key."""
    cp = operator
    work = tmp_path_factory.mktemp("helm")
    keys = {}
    for region in REGIONS:
        cp.create_namespace(ns(region))
        keys[region] = secrets.token_hex(16)
        cp.kubectl("create", "secret", "generic", "seqmesh-api-keys", "-n", ns(region),
                   f"--from-literal=alice={keys[region]}")
        cp.helm("install", "seqmesh", str(CHART), "-n", ns(region), "-f", str(CHART / f"values-{region}.yaml"))
    for region in REGIONS:
        reconciled(cp, "region", region, ns(region))
    for region in REGIONS:
        override = work / f"peers-{region}.yaml"
        override.write_text(yaml.safe_dump({"peerLinks": peer_values(cp, region, 2)}))
        cp.helm("upgrade", "seqmesh", str(CHART), "-n", ns(region), "-f", str(CHART / f"values-{region}.yaml"),
                "-f", str(override))
    for region in REGIONS:
        for other in (o for o in REGIONS if o != region):
            reconciled(cp, "peerlink", f"{region}-to-{other}", ns(region))
        wait_until(lambda region=region: len(cc_config(cp, region)["peers"]) == 2, 60, interval=0.3,
                   what=f"both peers in {region}'s CC configuration")
    yield keys
    for region in REGIONS:
        cp.helm("uninstall", "seqmesh", "-n", ns(region), check=False)


def test_placeholder_peer_cas_are_refused_and_kept_out_of_the_cc(operator: ControlPlane, tmp_path: Path) -> None:
    """values-*.yaml ship placeholder CA bundles: the PeerLinks say so, and the CC is not given them."""
    cp = operator
    cp.create_namespace("seqmesh-placeholder")
    cp.helm("install", "seqmesh", str(CHART), "-n", "seqmesh-placeholder", "-f", str(CHART / "values-eu.yaml"))
    try:
        for link in ("eu-to-na", "eu-to-ap"):
            pl = reconciled(cp, "peerlink", link, "seqmesh-placeholder")
            assert condition(pl, "Degraded")["reason"] == "InvalidCABundle"
            assert condition(pl, "Ready")["status"] == "False"
        config = json.loads(obj(cp, "configmap", "seqmesh-eu-cc-config", "seqmesh-placeholder")  # type: ignore[index]
                            ["data"]["config.json"])
        assert config["peers"] == [] and config["listen_peer"] == "0.0.0.0:50061"
    finally:
        cp.helm("uninstall", "seqmesh", "-n", "seqmesh-placeholder")


def test_every_object_the_operator_makes(operator: ControlPlane, three_regions: dict[str, str]) -> None:
    cp = operator
    for region in REGIONS:
        namespace = ns(region)
        others = sorted(o for o in REGIONS if o != region)
        config = cc_config(cp, region)
        # Peers: each with the CA file its pod mounts; the CC listens for them; probes honoured.
        assert config["listen_peer"] == "0.0.0.0:50061" and config["require_api_keys"] is True
        assert config["peers"] == [{"region": o, "endpoint": f"seqmesh-{o}-peer.{ns(o)}.svc:50061",
                                    "ca": f"/etc/seqmesh/peers/{o}.crt"} for o in others]
        assert config["peer_probe_s"] == 2  # the smaller of the two PeerLinks' rttProbeSeconds (2, 3)
        sts = obj(cp, "statefulset", f"seqmesh-{region}-cc", namespace)
        assert sts is not None and sts["spec"]["replicas"] == 1
        pod = sts["spec"]["template"]["spec"]
        peer_cas = next(v for v in pod["volumes"] if v["name"] == "peer-cas")
        assert [(s["configMap"]["name"], s["configMap"]["items"]) for s in peer_cas["projected"]["sources"]] == [
            (f"seqmesh-{region}-peer-{o}", [{"key": "ca.crt", "path": f"{o}.crt"}]) for o in others]
        for o in others:  # what the projected key holds is the other region's CA
            cm = obj(cp, "configmap", f"seqmesh-{region}-peer-{o}", namespace)
            assert cm is not None and cm["data"]["ca.crt"] == ca_pem(cp, o)
        container = pod["containers"][0]
        assert {"name": "peer-cas", "mountPath": "/etc/seqmesh/peers", "readOnly": True} in container["volumeMounts"]
        env = {e["name"]: e for e in container["env"]}
        assert env["SEQMESH_API_KEYS_DIR"]["value"] == "/etc/seqmesh/api-keys"
        keys_volume = next(v for v in pod["volumes"] if v["name"] == "api-keys")
        assert keys_volume["secret"]["secretName"] == "seqmesh-api-keys"
        # State on claims that outlive pods, the StatefulSet and the Region.
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        template = sts["spec"]["volumeClaimTemplates"][0]
        assert template["metadata"]["name"] == "state"
        assert template["spec"]["resources"]["requests"]["storage"] == "10Gi"
        assert "storageClassName" not in template["spec"]  # the cluster's default
        assert {"name": "state", "mountPath": "/var/lib/seqmesh"} in container["volumeMounts"]
        assert config["db_path"] == "/var/lib/seqmesh/ledger.sqlite"
        wait_until(lambda region=region: obj(cp, "pvc", f"state-seqmesh-{region}-cc-0", ns(region)) is not None, 30,
                   interval=0.3, what="the CC's claim")
        edges = [e["venue"] for e in config["edges"]]
        for venue in edges:
            edge_sts = obj(cp, "statefulset", f"seqmesh-{region}-edge-{venue}", namespace)
            assert edge_sts is not None
            assert edge_sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
            args = edge_sts["spec"]["template"]["spec"]["containers"][0]["args"]
            assert args[args.index("--state-dir") + 1] == "/var/lib/seqmesh"
            wait_until(lambda v=venue, r=region: obj(cp, "pvc", f"state-seqmesh-{r}-edge-{v}-0", ns(r)) is not None,
                       30, interval=0.3, what=f"the {venue} edge's claim")
        # The CC's certificate: from this region's CA, naming the addresses peers dial.
        leaf = x509.load_pem_x509_certificate(base64.b64decode(
            obj(cp, "secret", f"seqmesh-{region}-cc-tls", namespace)["data"]["tls.crt"]))  # type: ignore[index]
        leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem(cp, region).encode()))
        names = set(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                    .get_values_for_type(x509.DNSName))
        assert {f"seqmesh-{region}-peer.{namespace}.svc", f"seqmesh-{region}-peer.{namespace}.svc.cluster.local",
                f"seqmesh-{region}-api.{namespace}.svc", f"cc-peer.{region}.seqmesh.example",
                f"cc.{region}.seqmesh.invalid"} <= names
        ident = identity_of(leaf)
        assert ident is not None and (ident.region, ident.role) == (region, "cc")
        # No kubelet here: the CC is not Ready, and says why, without claiming to be Degraded.
        rg = reconciled(cp, "region", region, namespace)
        assert condition(rg, "Ready")["status"] == "False" and condition(rg, "Ready")["reason"] == "PodNotReady"
        assert condition(rg, "Degraded")["status"] == "False"
        assert rg["status"]["configHash"] == sts["spec"]["template"]["metadata"]["annotations"][
            "seqmesh.io/config-sha256"]
    # Each region has its own CA.
    assert len({ca_pem(cp, r) for r in REGIONS}) == 3


def test_the_ccs_accept_their_pods_files_and_form_the_mesh(operator: ControlPlane, three_regions: dict[str, str],
                                                          tmp_path: Path) -> None:
    """Each CC run from exactly its pod's configuration, certificate, peer CAs and API keys
    (addresses moved to loopback) starts, and the three dial each other over mTLS."""
    cp = operator
    http = {r: free_port() for r in REGIONS}
    peer = {r: free_port() for r in REGIONS}
    procs: list[Proc] = []
    try:
        for region in REGIONS:
            pod = materialise(cp, ns(region), f"seqmesh-{region}-cc", tmp_path / region)
            assert pod.args == ["cc", "--config", "/etc/seqmesh/config/config.json"]
            config = pod.relocate(json.loads(Path(pod.local(pod.args[2])).read_text()))
            for p in config["peers"]:
                assert Path(p["ca"]).read_text() == ca_pem(cp, p["region"])  # the mount holds the right CA
                p["endpoint"] = f"127.0.0.1:{peer[p['region']]}"
            config["listen_http"] = f"127.0.0.1:{http[region]}"
            config["listen_peer"] = f"127.0.0.1:{peer[region]}"
            local = tmp_path / f"{region}.json"
            local.write_text(json.dumps(config))
            procs.append(run(pod, ["cc", "--config", str(local)], ready=rf"cc {region} ready",
                             log_path=tmp_path / f"{region}.log"))

        # The REST API is HTTPS, with the CC's certificate from its region's CA.
        trust = {r: ssl.create_default_context(cadata=ca_pem(cp, r)) for r in REGIONS}

        def meshed(region: str) -> bool:
            r = httpx.get(f"https://127.0.0.1:{http[region]}/v1/peers", verify=trust[region],
                          headers={"Authorization": f"Bearer {three_regions[region]}"}, timeout=5)
            r.raise_for_status()
            return {p["region"] for p in r.json() if p.get("connected")} == set(REGIONS) - {region}

        for region in REGIONS:
            wait_until(lambda region=region: meshed(region), 60, interval=0.3, what=f"{region} linked to both peers")
        # The chart's keys are the only keys: the development key is refused.
        r = httpx.get(f"https://127.0.0.1:{http['na']}/v1/peers", headers={"Authorization": "Bearer seqmesh-dev-key"},
                      verify=trust["na"])
        assert r.status_code == 401
    finally:
        for p in procs:
            p.stop()


def test_a_region_without_api_keys_refuses_to_start(operator: ControlPlane, tmp_path: Path) -> None:
    """Installed without region.apiKeysSecret: the Region says Degraded (NoAPIKeys), and its CC,
    run from its pod's files, exits naming the setting instead of accepting the development key."""
    cp = operator
    namespace = "seqmesh-nokeys"
    cp.create_namespace(namespace)
    values = tmp_path / "v.yaml"
    values.write_text(yaml.safe_dump({"region": {"enabled": True, "name": "nk"},
                                      "edges": [{"venue": "binance", "symbols": ["BTC/USDT"]}]}))
    cp.helm("install", "seqmesh", str(CHART), "-n", namespace, "-f", str(values))
    try:
        rg = reconciled(cp, "region", "nk", namespace)
        assert condition(rg, "Degraded")["status"] == "True" and condition(rg, "Degraded")["reason"] == "NoAPIKeys"
        pod = materialise(cp, namespace, "seqmesh-nk-cc", tmp_path / "pod")
        assert "SEQMESH_API_KEYS_DIR" not in pod.env
        config = pod.relocate(json.loads(Path(pod.local(pod.args[2])).read_text()))
        assert config["require_api_keys"] is True
        config["listen_http"] = "127.0.0.1:0"
        local = tmp_path / "nk.json"
        local.write_text(json.dumps(config))
        with pytest.raises(RuntimeError, match="require_api_keys is set but no client API keys"):
            run(pod, ["cc", "--config", str(local)], ready="cc nk ready", log_path=tmp_path / "nk.log")
        # Nor does a keys Secret holding the development key get past it.
        keys = tmp_path / "keys"
        keys.mkdir()
        (keys / "dev").write_text("seqmesh-dev-key")
        pod.env["SEQMESH_API_KEYS_DIR"] = str(keys)
        with pytest.raises(RuntimeError, match="well-known development key"):
            run(pod, ["cc", "--config", str(local)], ready="cc nk ready", log_path=tmp_path / "nk.log")
    finally:
        cp.helm("uninstall", "seqmesh", "-n", namespace)


def test_upgrade_rolls_the_cc_and_uninstall_keeps_the_claims(operator: ControlPlane,
                                                            three_regions: dict[str, str], tmp_path: Path) -> None:
    cp = operator
    namespace = ns("ap")

    def config_hash() -> str:
        sts = obj(cp, "statefulset", "seqmesh-ap-cc", namespace)
        return str(sts["spec"]["template"]["metadata"]["annotations"]["seqmesh.io/config-sha256"])  # type: ignore[index]

    def revision() -> str:
        sts = obj(cp, "statefulset", "seqmesh-ap-cc", namespace) or {}
        return str(sts.get("status", {}).get("updateRevision"))

    before, revision_before = config_hash(), revision()
    override = tmp_path / "risk.yaml"
    override.write_text(yaml.safe_dump({"peerLinks": peer_values(cp, "ap", 2),
                                        "region": {"risk": {"maxOrderNotional": "12345"}}}))
    cp.helm("upgrade", "seqmesh", str(CHART), "-n", namespace, "-f", str(CHART / "values-ap.yaml"), "-f", str(override))
    wait_until(lambda: cc_config(cp, "ap").get("risk", {}).get("max_order_notional") == "12345", 120, interval=0.3,
               what="the new risk limit in the CC's configuration")
    wait_until(lambda: config_hash() != before, 120, interval=0.3, what="the pod template's config hash to change")
    # A new pod template revision: the StatefulSet controller replaces the CC's pod with it.
    wait_until(lambda: revision() != revision_before, 120, interval=0.3, what="a new StatefulSet revision")

    claims = ["state-seqmesh-ap-cc-0", *(f"state-seqmesh-ap-edge-{v}-0" for v in
                                           ("binance", "okx", "bybit", "bitget", "cryptocom", "hyperliquid"))]
    assert all(obj(cp, "pvc", c, namespace) is not None for c in claims)
    cp.helm("uninstall", "seqmesh", "-n", namespace)
    wait_until(lambda: obj(cp, "statefulset", "seqmesh-ap-cc", namespace) is None
               and obj(cp, "region", "ap", namespace) is None, 180, interval=0.5,
               what="the region and its StatefulSet gone with the release")
    assert all(obj(cp, "pvc", c, namespace) is not None for c in claims), "a claim went with the release"
