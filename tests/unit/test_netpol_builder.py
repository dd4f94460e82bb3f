"""The operator's NetworkPolicies, checked against the pods its own builders make: each policy
selects exactly its pod, an edge admits only its region's CC, a CC admits clients on the REST
port and only its PeerLinks' CCs (and their sourceCIDRs) on the peer port."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from seqmesh.operator.builders import edge, netpol, region

from seqmesh.common.certs import make_ca
from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec, RegionSpec

OWNER = {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "name": "na", "uid": "u1", "controller": True}
CA = make_ca("eu").cert_pem.decode()


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _pod_labels(objs: list[dict[str, Any]]) -> dict[str, str]:
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    labels: dict[str, str] = sts["spec"]["template"]["metadata"]["labels"]
    return labels


def _pods(region_name: str, venues: list[str]) -> dict[str, dict[str, str]]:
    """The pod labels the builders give a region's CC and its edges."""
    spec = RegionSpec(region=region_name)
    edges = [EdgeSpec(region=region_name, venue=v, symbols=["BTC/USDT"]) for v in venues]
    pods = {"cc": _pod_labels(region.objects(spec, "ns", OWNER, edges, []))}
    for e in edges:
        pods[e.venue] = _pod_labels(edge.objects(e, "ns", OWNER, spec))
    return pods


def _admits(policy: dict[str, Any], labels: dict[str, str], port: int, same_namespace: bool = True) -> bool:
    """Whether `policy` lets a pod with `labels` connect to `port` (pod and namespace selectors only)."""
    for rule in policy["spec"]["ingress"]:
        if not any(p["port"] == port and p["protocol"] == "TCP" for p in rule["ports"]):
            continue
        if "from" not in rule:
            return True
        for peer in rule["from"]:
            if "ipBlock" in peer:
                continue
            namespace_ok = same_namespace if "namespaceSelector" not in peer else peer["namespaceSelector"] == {}
            if namespace_ok and _selects(peer.get("podSelector", {}), labels):
                return True
    return False


def test_edge_policy_selects_its_pod_and_admits_only_its_regions_cc() -> None:
    na, eu = _pods("na", ["binance", "kraken"]), _pods("eu", ["binance"])
    policy = netpol.edge(EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"]), "ns", OWNER)
    assert policy["apiVersion"] == "networking.k8s.io/v1" and policy["metadata"]["ownerReferences"] == [OWNER]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    selector = policy["spec"]["podSelector"]
    assert _selects(selector, na["binance"])
    assert not any(_selects(selector, p) for p in (na["kraken"], na["cc"], eu["binance"], eu["cc"]))
    assert _admits(policy, na["cc"], 50051)
    assert not _admits(policy, na["cc"], 8000)  # only the gRPC port
    for other in (eu["cc"], na["kraken"], {"app": "anything"}):
        assert not _admits(policy, other, 50051)
    assert not _admits(policy, na["cc"], 50051, same_namespace=False)  # a CC of that name elsewhere


def test_cc_policy_admits_clients_on_rest_and_only_linked_peers_on_the_peer_port() -> None:
    na, eu, ap = _pods("na", ["binance"]), _pods("eu", []), _pods("ap", [])
    spec = RegionSpec(region="na", apiPort=8443, peerPort=50061)
    peers = [PeerLinkSpec(region="na", remoteRegion="eu", endpoint="eu.example:50061", caBundle=CA,
                          sourceCIDRs=["203.0.113.0/24", "2001:db8::/48"])]
    policy = netpol.cc(spec, "ns", OWNER, peers)
    selector = policy["spec"]["podSelector"]
    assert _selects(selector, na["cc"]) and not _selects(selector, na["binance"]) and not _selects(selector, eu["cc"])
    anyone = {"app": "ingress-controller"}
    assert _admits(policy, anyone, 8443, same_namespace=False)  # clients, and Prometheus on /metrics
    assert _admits(policy, eu["cc"], 50061, same_namespace=False)
    assert not _admits(policy, ap["cc"], 50061, same_namespace=False)  # no PeerLink to ap
    assert not _admits(policy, anyone, 50061) and not _admits(policy, na["binance"], 50061)
    peer_rule = next(r for r in policy["spec"]["ingress"] if "from" in r)
    assert [s["ipBlock"]["cidr"] for s in peer_rule["from"] if "ipBlock" in s] == ["203.0.113.0/24", "2001:db8::/48"]


def test_cc_policy_without_peers_closes_the_peer_port_and_orders_peers() -> None:
    spec = RegionSpec(region="na")
    closed = netpol.cc(spec, "ns", OWNER, [])
    assert [r["ports"][0]["port"] for r in closed["spec"]["ingress"]] == [spec.apiPort]
    links = [PeerLinkSpec(region="na", remoteRegion=r, endpoint=f"{r}.example:50061", caBundle=CA)
             for r in ("eu", "ap")]
    a, b = netpol.cc(spec, "ns", OWNER, links), netpol.cc(spec, "ns", OWNER, links[::-1])
    assert a == b  # the same desired object whatever order the PeerLinks are listed in
    regions = [s["podSelector"]["matchLabels"]["seqmesh.io/region"] for s in a["spec"]["ingress"][1]["from"]]
    assert regions == ["ap", "eu"]


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "10.0.0.1/24", "not-a-net", "10.0.0.0"])
def test_peerlink_refuses_a_bad_source_cidr(cidr: str) -> None:
    with pytest.raises(ValidationError, match="sourceCIDRs"):
        PeerLinkSpec(region="na", remoteRegion="eu", endpoint="eu.example:50061", caBundle=CA, sourceCIDRs=[cidr])
