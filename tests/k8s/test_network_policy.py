"""NetworkPolicies: the operator creates, owns and updates them (real API server), and the
development node enforces them (kube-router's policy controller on the real node): a pod
outside the policy cannot reach an edge's gRPC port, its region's CC can."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seqmesh.operator import kube
from seqmesh.operator.builders import edge, netpol, region
from seqmesh.operator.builders.names import EDGE_GRPC_PORT

from seqmesh.common.certs import make_ca
from seqmesh.common.crds.models import EdgeSpec, PeerLinkSpec, RegionSpec
from seqmesh.devcluster.controlplane import ControlPlane
from seqmesh.testing.kube import apply, busybox_pod, get, pod_exec, scratch_namespace, wait_pods
from seqmesh.testing.processes import wait_until

pytestmark = pytest.mark.k8s


def _policy(cp: ControlPlane, name: str, ns: str) -> dict[str, Any] | None:
    return get(cp, "networkpolicy", name, ns)


def test_operator_creates_owns_and_updates_the_policies(operator: ControlPlane) -> None:
    cp = operator
    with scratch_namespace(cp, "netpol-operator") as ns:
        ca = make_ca("eu").cert_pem.decode()
        manifests = [
            {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Region", "metadata": {"name": "np"},
             "spec": {"region": "np"}},
            {"apiVersion": "seqmesh.io/v1alpha1", "kind": "Edge", "metadata": {"name": "np-binance"},
             "spec": {"region": "np", "venue": "binance", "symbols": ["BTC/USDT"]}},
            {"apiVersion": "seqmesh.io/v1alpha1", "kind": "PeerLink", "metadata": {"name": "np-to-eu"},
             "spec": {"region": "np", "remoteRegion": "eu", "endpoint": "eu.example:50061", "caBundle": ca}},
        ]
        apply(cp, ns, *manifests)

        def peer_rule() -> dict[str, Any] | None:
            cc = _policy(cp, "seqmesh-np-cc", ns)
            rules = (cc or {}).get("spec", {}).get("ingress", [])
            return next((r for r in rules if "from" in r), None)

        wait_until(lambda: peer_rule() is not None and _policy(cp, "seqmesh-np-edge-binance", ns) is not None,
                   60, interval=0.3, what="the CC's policy with its peer and the edge's policy")
        owners = {kind: get(cp, kind, name, ns)["metadata"]["uid"]  # type: ignore[index]
                  for kind, name in (("region", "np"), ("edge", "np-binance"))}
        cc_policy, edge_policy = _policy(cp, "seqmesh-np-cc", ns), _policy(cp, "seqmesh-np-edge-binance", ns)
        assert cc_policy and cc_policy["metadata"]["ownerReferences"][0]["uid"] == owners["region"]
        assert edge_policy and edge_policy["metadata"]["ownerReferences"][0]["uid"] == owners["edge"]
        assert edge_policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "seqmesh", "app.kubernetes.io/instance": "seqmesh-np-cc"}}}]
        # What the API server stored still contains all the operator wants: no re-apply on every resync.
        edge_body = get(cp, "edge", "np-binance", ns)
        assert edge_body is not None
        assert kube.contains(edge_policy, netpol.edge(EdgeSpec.model_validate(edge_body["spec"]), ns,
                                                      kube.owner(edge_body)))
        # A source range added to the PeerLink reaches the CC's policy; a drifted policy is put back.
        cp.kubectl("patch", "peerlink", "np-to-eu", "-n", ns, "--type=merge",
                   "-p", json.dumps({"spec": {"sourceCIDRs": ["198.51.100.0/24"]}}))
        wait_until(lambda: {"ipBlock": {"cidr": "198.51.100.0/24"}} in (peer_rule() or {}).get("from", []), 60,
                   interval=0.3, what=f"the PeerLink's sourceCIDRs in the CC's policy (seen {peer_rule()})")
        region_body, link_body = get(cp, "region", "np", ns), get(cp, "peerlink", "np-to-eu", ns)
        assert region_body is not None and link_body is not None
        assert kube.contains(_policy(cp, "seqmesh-np-cc", ns), netpol.cc(
            RegionSpec.model_validate(region_body["spec"]), ns, kube.owner(region_body),
            [PeerLinkSpec.model_validate(link_body["spec"])]))
        cp.kubectl("patch", "networkpolicy", "seqmesh-np-edge-binance", "-n", ns, "--type=json",
                   "-p", json.dumps([{"op": "remove", "path": "/spec/ingress/0/from"}]))

        def edge_sources() -> list[dict[str, Any]]:
            rules = (_policy(cp, "seqmesh-np-edge-binance", ns) or {}).get("spec", {}).get("ingress") or [{}]
            sources: list[dict[str, Any]] = rules[0].get("from", [])
            return sources

        wait_until(lambda: edge_sources() == edge_policy["spec"]["ingress"][0]["from"], 60, interval=0.3,
                   what=f"the edge's policy restored by the resync (seen {edge_sources()})")
        # Without its PeerLink the CC's peer port admits no one.
        cp.kubectl("delete", "peerlink", "np-to-eu", "-n", ns, "--wait=false")  # the operator's finalizer
        wait_until(lambda: peer_rule() is None, 90, interval=0.3, what="the peer rule gone with the PeerLink")


def _pod_labels(objs: list[dict[str, Any]]) -> dict[str, str]:
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    labels: dict[str, str] = sts["spec"]["template"]["metadata"]["labels"]
    return labels


def test_node_enforces_the_edge_policy(k8s_node_cluster: ControlPlane) -> None:
    """Pods labelled as the operator labels a region's CC and edge (busybox stands in for both
    processes); the policy is the operator's own. Before it, anyone connects; with it, only the CC."""
    cp = k8s_node_cluster
    na, eu = RegionSpec(region="na"), RegionSpec(region="eu")
    edge_spec = EdgeSpec(region="na", venue="binance", symbols=["BTC/USDT"])
    owner: dict[str, Any] = {}
    labels = {
        "edge": _pod_labels(edge.objects(edge_spec, "x", owner, na)),
        "cc": _pod_labels(region.objects(na, "x", owner, [edge_spec], [])),
        "other-cc": _pod_labels(region.objects(eu, "x", owner, [], [])),  # another region's CC
        "outsider": {"app": "outsider"},
    }
    with scratch_namespace(cp, "netpol-node") as ns:
        apply(cp, ns, busybox_pod("edge", f"exec nc -ll -p {EDGE_GRPC_PORT} -e echo edge-answers",
                                  labels=labels["edge"]),
              *(busybox_pod(name, "exec sleep 3600", labels=labels[name]) for name in ("cc", "other-cc", "outsider")))
        for name in labels:
            wait_pods(cp, ns, f"pod/{name}")
        edge_ip = get(cp, "pod", "edge", ns)["status"]["podIP"]  # type: ignore[index]

        def reaches(pod: str) -> bool:
            out = pod_exec(cp, ns, pod, "sh", "-c", f"nc -w 3 {edge_ip} {EDGE_GRPC_PORT} </dev/null; true")
            return "edge-answers" in out

        assert all(reaches(p) for p in ("cc", "other-cc", "outsider")), "without a policy every pod connects"
        policy = netpol.edge(edge_spec, ns, owner)
        del policy["metadata"]["ownerReferences"]  # no Edge here: its garbage collection would remove it
        apply(cp, ns, policy)
        wait_until(lambda: not reaches("outsider"), 60, interval=1,
                   what="kube-router to program the policy (the outsider still connects)")
        assert reaches("cc"), "the region's CC is refused by its edge's policy"
        assert not reaches("other-cc") and not reaches("outsider")
        # The policy gone, the outsider connects again: it was the policy that refused it.
        cp.kubectl("delete", "networkpolicy", policy["metadata"]["name"], "-n", ns)
        wait_until(lambda: reaches("outsider"), 60, interval=1, what="the outsider to connect without the policy")
