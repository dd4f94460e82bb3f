"""The operator's builders and checks, pure functions: what the CC's pod gets for peers, keys
and state, and which CA bundles and certificates are accepted."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from seqmesh.operator import certs, conditions, wrapping
from seqmesh.operator.builders import edge, region

from seqmesh.common.certs import Identity, identity_of, issue_leaf, make_ca
from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec, RegionSpec

OWNER = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "name": "na", "uid": "u1", "controller": True}


def _by_kind(objs: list[dict], kind: str) -> dict:  # type: ignore[type-arg]
    return next(o for o in objs if o["kind"] == kind)


def test_region_cc_gets_peers_with_their_cas_keys_and_a_claim() -> None:
    ca_eu, ca_ap = make_ca("eu"), make_ca("ap")
    spec = RegionSpec(region="na", apiKeysSecret="keys", storage={"storageClassName": "fast", "ccSize": "5Gi",
                                                                  "retainOnDelete": False},
                      ledgerUrlSecret={"name": "pg", "key": "dsn"})
    peers = [PeerLinkSpec(region="na", remoteRegion="eu", endpoint="eu.example:50061", caBundle=ca_eu.cert_pem.decode(),
                          rttProbeSeconds=7),
             PeerLinkSpec(region="na", remoteRegion="ap", endpoint="ap.example:50061", caBundle=ca_ap.cert_pem.decode(),
                          rttProbeSeconds=4)]
    edges = [EdgeSpec(region="na", venue="coinbase", symbols=["BTC/USDT"])]
    objs = region.objects(spec, "ns", OWNER, edges, peers)
    cfg = json.loads(_by_kind(objs, "ConfigMap")["data"]["config.json"])
    assert cfg["listen_peer"] == "0.0.0.0:50061" and cfg["peer_probe_s"] == 4 and cfg["require_api_keys"] is True
    assert [(p["region"], p["ca"]) for p in cfg["peers"]] == [("ap", "/etc/seqmesh/peers/ap.crt"),
                                                              ("eu", "/etc/seqmesh/peers/eu.crt")]
    sts = _by_kind(objs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    sources = next(v for v in pod["volumes"] if v["name"] == "peer-cas")["projected"]["sources"]
    assert [s["configMap"]["items"][0]["path"] for s in sources] == ["ap.crt", "eu.crt"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["SEQMESH_LEDGER_URL"]["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "dsn"}
    assert env["SEQMESH_API_KEYS_DIR"]["value"] == "/etc/seqmesh/api-keys"
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast" and claim["resources"]["requests"]["storage"] == "5Gi"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    # What the CC reads only at start changes the pod template: a new peer rolls it.
    again = region.objects(spec, "ns", OWNER, edges, peers[:1])
    assert (_by_kind(again, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
            != sts["spec"]["template"]["metadata"]["annotations"])


def test_edge_journal_on_a_claim() -> None:
    spec = RegionSpec(region="na")
    e = EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"], simulatorUrl="http://sim:8100")
    sts = _by_kind(edge.objects(e, "ns", OWNER, spec), "StatefulSet")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "--sim-url" in sts["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_cc_serves_https_with_its_certificate_or_the_secret_named() -> None:
    def cc(spec: RegionSpec) -> tuple[dict, dict]:  # type: ignore[type-arg]
        objs = region.objects(spec, "ns", OWNER, [], [])
        pod = _by_kind(objs, "StatefulSet")["spec"]["template"]["spec"]
        return json.loads(_by_kind(objs, "ConfigMap")["data"]["config.json"]), pod

    cfg, pod = cc(RegionSpec(region="na"))
    assert cfg["api_tls"] == {"cert": "/etc/seqmesh/tls/tls.crt", "key": "/etc/seqmesh/tls/tls.key"}
    assert (cfg["cert"], cfg["key"]) == (cfg["api_tls"]["cert"], cfg["api_tls"]["key"])
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    cfg, pod = cc(RegionSpec(region="na", apiTlsSecret="public-api"))
    assert cfg["api_tls"] == {"cert": "/etc/seqmesh/api-tls/tls.crt", "key": "/etc/seqmesh/api-tls/tls.key"}
    assert next(v for v in pod["volumes"] if v["name"] == "api-tls")["secret"]["secretName"] == "public-api"
    assert {"name": "api-tls", "mountPath": "/etc/seqmesh/api-tls", "readOnly": True} in pod["containers"][0][
        "volumeMounts"]


def test_a_renewed_certificate_rolls_no_pod_and_names_its_identity() -> None:
    """The pods reload rotated files: nothing of a certificate is in their templates; a leaf
    carries its identity's URI and DNS name (what the other end of each link checks)."""
    spec = RegionSpec(region="na")
    e = EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"])
    for objs in (region.objects(spec, "ns", OWNER, [e], []), edge.objects(e, "ns", OWNER, spec)):
        annotations = _by_kind(objs, "StatefulSet")["spec"]["template"]["metadata"].get("annotations", {})
        assert not any("cert" in k for k in annotations), annotations
    leaf = issue_leaf(make_ca("na"), Identity("na", "edge", "binance"), dns_names=("edge.svc",))
    assert certs.sans(leaf.cert)[0] == {"edge.svc", "edge.na.seqmesh.invalid"}
    assert identity_of(leaf.cert) == Identity("na", "edge", "binance")


def test_the_regions_resources_size_its_cc_and_edge_containers() -> None:
    default = RegionSpec(region="na")
    sized = RegionSpec(region="na", resources={"cc": {"cpu": "2", "memory": "1Gi", "memoryLimit": "4Gi"},
                                               "edge": {"cpu": "500m"}})
    e = EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"])

    def containers(spec: RegionSpec) -> tuple[dict, dict]:  # type: ignore[type-arg]
        cc = _by_kind(region.objects(spec, "ns", OWNER, [e], []), "StatefulSet")
        ed = _by_kind(edge.objects(e, "ns", OWNER, spec), "StatefulSet")
        return cc["spec"]["template"]["spec"]["containers"][0], ed["spec"]["template"]["spec"]["containers"][0]

    cc, ed = containers(default)
    want = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    assert cc["resources"] == want and ed["resources"] == want
    cc, ed = containers(sized)
    assert cc["resources"] == {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}
    assert ed["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def test_ca_bundles() -> None:
    ca = make_ca("x")
    assert certs.bundle_error(ca.cert_pem.decode()) is None
    assert certs.bundle_error((ca.cert_pem + make_ca("y").cert_pem).decode()) is None
    assert "not PEM" in (certs.bundle_error("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n") or "")
    leaf = issue_leaf(ca, Identity("na", "cc", "main"))
    assert "not a CA" in (certs.bundle_error(leaf.cert_pem.decode()) or "")


def test_hosts_split_into_dns_names_and_ips() -> None:
    assert certs.split_hosts(("a.example", "10.1.2.3", "a.example", "::1")) == (("a.example",), ("10.1.2.3", "::1"))
    leaf = issue_leaf(make_ca("x"), Identity("na", "cc", "main"), dns_names=("a.example",), ips=("10.1.2.3",))
    assert certs.sans(leaf.cert) == ({"a.example", "cc.na.seqmesh.invalid"}, {"10.1.2.3"})


def test_conditions_progressing_is_neither_ready_nor_degraded() -> None:
    conds = conditions.ready([], False, "PodNotReady", "waiting", 3, degraded=False)
    assert {c["type"]: c["status"] for c in conds} == {"Ready": "False", "Degraded": "False"}
    assert all(c["observedGeneration"] == 3 for c in conds)
    conds = conditions.ready(conds, False, "CrashLoopBackOff", "exited 1", 3)
    assert {c["type"]: c["status"] for c in conds} == {"Ready": "False", "Degraded": "True"}


def _edge_pod(e: EdgeSpec) -> tuple[list[str], dict[str, dict], dict]:  # type: ignore[type-arg]
    pod = _by_kind(edge.objects(e, "ns", OWNER, RegionSpec(region="na")), "StatefulSet")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in container.get("env", [])}
    return container["args"], env, pod


def test_each_venue_kind_gets_its_own_settings_and_credentials() -> None:
    args, env, _ = _edge_pod(EdgeSpec(region="na", venue="okx", symbols=["BTC/USDT"], credentialsSecret="okx-keys",
                                      simulatorUrl="http://sim:8100", simulatorDialect="okx"))
    assert args[args.index("--sim-dialect") + 1] == "okx"
    assert env["SEQMESH_API_PASSPHRASE"] == {"name": "okx-keys", "key": "passphrase", "optional": True}
    router = "0x" + "ab" * 20
    args, env, _ = _edge_pod(EdgeSpec(region="na", venue="dex-base", symbols=["ETH/USDT"], credentialsSecret="k",
                                      chain={"rpcUrl": "http://anvil:8545", "router": router, "confirmations": 2}))
    assert args[args.index("--chain-rpc") + 1] == "http://anvil:8545" and args[args.index("--router") + 1] == router
    assert args[args.index("--confirmations") + 1] == "2"
    assert set(env) == {"SEQMESH_DEX_PRIVATE_KEY"} and env["SEQMESH_DEX_PRIVATE_KEY"]["key"] == "privateKey"
    args, env, pod = _edge_pod(EdgeSpec(region="na", venue="solana", symbols=["BTC/USDT"], credentialsSecret="kp",
                                        solana={"rpcUrl": "http://solana:8899"}))
    assert args[args.index("--solana-keypair") + 1] == f"{edge.KEYPAIR_DIR}/keypair" and not env
    vol = next(v for v in pod["spec"]["volumes"] if v["name"] == "solana-keypair")
    assert vol["secret"]["secretName"] == "kp" and vol["secret"]["items"] == [{"key": "keypair", "path": "keypair"}]


def test_a_venue_without_the_settings_its_kind_needs_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"needs spec\.chain"):
        EdgeSpec(region="na", venue="dex-ethereum", symbols=["ETH/USDT"])
    with pytest.raises(ValidationError, match=r"needs spec\.solana"):
        EdgeSpec(region="na", venue="solana", symbols=["BTC/USDT"])
    with pytest.raises(ValidationError, match=r"spec\.chain is for"):
        EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"],
                 chain={"rpcUrl": "http://x:1", "router": "0x" + "00" * 20})


def test_every_edge_of_a_venue_mounts_its_wrapping_keys_read_only() -> None:
    """An edge reads its venue's wrapping keys from one Secret per region and venue (the same for
    two Edges of the venue), mounted read-only; the Edge may name its own instead."""
    mounted = []
    for symbols in (["BTC/USDT"], ["ETH/USDT", "SOL/USDT"]):
        args, _, pod = _edge_pod(EdgeSpec(region="na", venue="binance", symbols=symbols))
        assert args[args.index("--wrapping-keys") + 1] == edge.WRAPPING_KEYS_DIR == "/etc/seqmesh/wrapping-keys"
        mount = next(m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == "wrapping-keys")
        assert mount == {"name": "wrapping-keys", "mountPath": edge.WRAPPING_KEYS_DIR, "readOnly": True}
        mounted.append(next(v for v in pod["spec"]["volumes"] if v["name"] == "wrapping-keys")["secret"])
    assert mounted[0] == mounted[1] == {"secretName": "seqmesh-na-binance-wrapping", "defaultMode": 0o440}
    _, _, pod = _edge_pod(EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"], wrappingKeysSecret="mine"))
    assert next(v for v in pod["spec"]["volumes"] if v["name"] == "wrapping-keys")["secret"]["secretName"] == "mine"
    # DEX and Solana edges open clients' wallets and keypairs with theirs too.
    for spec in (EdgeSpec(region="na", venue="solana", symbols=["BTC/USDT"], solana={"rpcUrl": "http://s:8899"}),
                 EdgeSpec(region="na", venue="dex-base", symbols=["ETH/USDT"],
                          chain={"rpcUrl": "http://anvil:8545", "router": "0x" + "ab" * 20})):
        args, _, pod = _edge_pod(spec)
        assert args[args.index("--wrapping-keys") + 1] == edge.WRAPPING_KEYS_DIR
        secret = next(v for v in pod["spec"]["volumes"] if v["name"] == "wrapping-keys")["secret"]
        assert secret["secretName"] == f"seqmesh-na-{spec.venue}-wrapping"


def test_a_fresh_wrapping_keys_secret_holds_one_x25519_key() -> None:
    import base64

    from seqmesh.common.sealing import WrappingKey

    one = wrapping.fresh_secret("s", "ns", OWNER, {"a": "b"})
    two = wrapping.fresh_secret("s", "ns", None, {"a": "b"})
    assert wrapping.key_files(one) == ["0001.pem"] and one["metadata"]["ownerReferences"] == [OWNER]
    assert "ownerReferences" not in two["metadata"]  # retained with the region's claims
    keys = [WrappingKey.from_pem(base64.b64decode(s["data"]["0001.pem"])) for s in (one, two)]
    assert keys[0].key_id != keys[1].key_id  # made afresh, never derived


def test_a_rotated_key_file_sorts_after_every_other() -> None:
    assert wrapping.next_key_file([]) == "0001.pem"
    assert wrapping.next_key_file(["0001.pem", "0002.pem"]) == "0003.pem"
    assert wrapping.next_key_file(["0009.pem", "0010.pem"]) == "0011.pem"
    with pytest.raises(wrapping.WrappingKeysUnavailable, match=r"sorts after 'zz\.pem'"):
        wrapping.next_key_file(["0001.pem", "zz.pem"])
    assert wrapping.request_of({wrapping.ROTATE_ANNOTATION: " 2026-12-07 "}) == "2026-12-07"
    assert wrapping.request_of({wrapping.ROTATE_ANNOTATION: ""}) is None and wrapping.request_of(None) is None
    with pytest.raises(wrapping.WrappingKeysUnavailable) as err:
        wrapping.request_of({wrapping.ROTATE_ANNOTATION: "x" * 64})
    assert err.value.reason == "InvalidRotationRequest"
