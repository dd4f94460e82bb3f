"""What enforces NetworkPolicies on the development node: kube-router's network policy
controller alone (`--run-firewall`; its routing and service proxy stay off, the bridge CNI and
kube-proxy keep those jobs), built from its Go module by hack/build-k8s.sh.

The bridge CNI plugin ignores NetworkPolicies. kube-router programs them into iptables (chains
KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) and ipsets (KUBE-SRC-*, KUBE-DST-*) for the pods on
this node; the node itself (the kubelet's probes, the host) always reaches its pods. Traffic
between two pods crosses the bridge, which reaches iptables only with `bridge-nf-call-iptables`
on. `host.clean` removes its chains and sets; nftables' queue, which SIG Network's
kube-network-policies needs, is not in this machine's kernel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from seqmesh.common.certs import issue_leaf

from . import host

if TYPE_CHECKING:
    from .controlplane import ControlPlane

AGENT = "kube-router"
USER = "system:kube-router"
#: Created once the controller has started; a policy is enforced when its KUBE-NWPLCY-* chain exists.
TOP_CHAIN = "KUBE-ROUTER-FORWARD"
BRIDGE_SYSCTL = "net/bridge/bridge-nf-call-iptables"


def rbac() -> list[dict[str, Any]]:
    """What the controller reads (its informers list and watch all of these at start)."""
    read = ["get", "list", "watch"]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": USER},
         "rules": [{"apiGroups": [""], "resources": ["pods", "namespaces", "nodes", "services", "endpoints"],
                    "verbs": read},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
                   {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": read}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": USER},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": USER},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]},
    ]


def args(binary: str, kubeconfig: str, node_name: str, service_cidr: str) -> list[str]:
    return [binary, f"--kubeconfig={kubeconfig}", f"--hostname-override={node_name}",
            "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
            f"--service-cluster-ip-range={service_cidr}",
            "--health-port=0", "--metrics-port=0",  # both would listen on every interface
            "--v=1"]


def chain_exists(chain: str) -> bool:
    return subprocess.run(["iptables", "-w", "-t", "filter", "-S", chain], capture_output=True).returncode == 0


def start(cp: ControlPlane, node_name: str, service_cidr: str, binary: str, timeout: float) -> None:
    """Run the controller as the node's other processes run, and wait for its top-level chains."""
    if shutil.which("ipset") is None or shutil.which("iptables") is None:
        raise FileNotFoundError("kube-router needs iptables and ipset on the node: run `bash hack/build-k8s.sh node`")
    assert cp.node is not None
    work = cp.node.dir
    pair = issue_leaf(cp.ca, common_name=USER, organizations=(), dns_names=(), ips=(), server=False)
    kubeconfig = cp.write_kubeconfig(work / "kube-router.kubeconfig", pair, USER)
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac()}))
    host.set_sysctl(BRIDGE_SYSCTL, "1")
    cp.spawn(AGENT, args(binary, str(kubeconfig), node_name, service_cidr))
    cp.wait_for(AGENT, lambda: chain_exists(TOP_CHAIN), timeout)
