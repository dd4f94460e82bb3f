"""A real node for the development control plane: containerd and runc, the kubelet, the
scheduler, kube-proxy (iptables), CoreDNS, a local-volume provisioner and kube-router's network
policy controller (NetworkPolicies enforced: `netpolicy.py`), all host processes built by
hack/build-k8s.sh (the `node` group).

Configured for this machine kind (cgroup v1, cgroupfs driver; no CAP_SYS_RESOURCE, so containerd
clamps negative OOM scores: `restrict_oom_score_adj`). Pods attach to the bridge `seqmesh0`
(`10.244.0.0/24`, no masquerading: nothing routes off the machine); the node's address is the
bridge's, `10.244.0.1`, where the API server, the kubelet and CoreDNS listen, so pods reach
them and the host reaches everything. Services are ClusterIPs in `10.0.0.0/24`, programmed by
kube-proxy for pods and for the host; names `<svc>.<ns>.svc.cluster.local` resolve from pods
through CoreDNS at `10.244.0.1` (the pods' nameserver).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from seqmesh.common.certs import issue_leaf

from . import host, netpolicy
from .binaries import binary
from .images import image_names, load_image
from .net import free_port, http_ok
from .storage import STORAGE_CLASS, storage_class_manifest

if TYPE_CHECKING:
    from .controlplane import ControlPlane

NODE_NAME = "seqmesh-node"
NODE_IP = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.0.0.0/24"  # the API server's --service-cluster-ip-range
CLUSTER_DOMAIN = "cluster.local"
BUSYBOX_IMAGE = "seqmesh.dev/busybox:1"  # built by hack/build-k8s.sh for tests (Debian's busybox-static)
SOCKET = host.RUN_DIR / "containerd.sock"  # short: unix socket paths are limited to 108 bytes

__all__ = ["BUSYBOX_IMAGE", "CLUSTER_DOMAIN", "NODE_IP", "NODE_NAME", "POD_CIDR", "STORAGE_CLASS", "Node"]


class Node:
    def __init__(self, cp: ControlPlane, wait: float = 0.0) -> None:
        self.cp = cp
        self.wait = wait  # for another node on this machine to stop
        self.dir = cp.workdir / "node"
        self.binary = binary
        self.images = binary("images")  # pause.tar, busybox.tar
        self.lock: host.NodeLock | None = None
        self.sysctls: dict[str, str] = {}

    # -- host ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Before the API server starts (it listens on the bridge): take the machine's node lock,
        remove what a killed node left, route between pods and the host."""
        for name in ("kubelet", "containerd", "runc", "kube-proxy", "coredns", "cni", netpolicy.AGENT):
            self.binary(name)  # a clear error now rather than a half-started node
        self.lock = host.NodeLock(self.wait)
        host.clean(self.dir, self._shim_dir())
        self.sysctls = host.save_sysctls()
        host.set_sysctl("net/ipv4/ip_forward", "1")
        host.make_bridge(f"{NODE_IP}/24")

    def cleanup(self) -> list[str]:
        """After every process stopped: undo the host changes; returns what could not be undone."""
        problems = host.clean(self.dir, self._shim_dir())
        host.restore_sysctls(self.sysctls)
        if self.lock:
            self.lock.release()
            self.lock = None
        return problems

    def _shim_dir(self) -> Path:
        return self.binary("containerd-shim-runc-v2").resolve().parent

    # -- processes -------------------------------------------------------------------------

    def start(self, timeout: float) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._pki()
        self._start_containerd(timeout)
        self.load_image(self.images / "pause.tar")
        self._start_kubelet()
        self._start_scheduler()
        self._start_proxy()
        self._start_coredns(timeout)
        self._start_storage()
        self.cp.kubectl("apply", "-f", "-", input=json.dumps(storage_class_manifest()))
        self.cp.wait_for("kubelet", self._ready, timeout)
        # After the node is registered: the controller reads its address from the Node at start.
        netpolicy.start(self.cp, NODE_NAME, SERVICE_CIDR, str(self.binary(netpolicy.AGENT)), timeout)

    def _ready(self) -> bool:
        jsonpath = '{.status.conditions[?(@.type=="Ready")].status}'
        return self.cp.kubectl("get", "node", NODE_NAME, "-o", f"jsonpath={jsonpath}",
                               check=False).stdout.strip() == "True"

    def _pki(self) -> None:
        cp, pki = self.cp, self.dir / "pki"
        ca = cp.ca
        for stem, cn, orgs in (("kubelet-client", f"system:node:{NODE_NAME}", ("system:nodes",)),
                               ("scheduler", "system:kube-scheduler", ()),
                               ("proxy", "system:kube-proxy", ()),
                               ("coredns", "system:coredns", ())):
            pair = issue_leaf(ca, common_name=cn, organizations=orgs, dns_names=(), ips=(), server=False)
            cp.write_kubeconfig(self.dir / f"{stem}.kubeconfig", pair, cn)
        issue_leaf(ca, common_name=NODE_NAME, dns_names=(NODE_NAME,), ips=(NODE_IP,), client=False).write(
            pki, "kubelet")
        self.pki = pki

    def _start_containerd(self, timeout: float) -> None:
        d = self.dir / "containerd"
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        cni_conf = self.dir / "cni" / "net.d"
        cni_conf.mkdir(parents=True, exist_ok=True)
        conflist = {"cniVersion": "1.0.0", "name": "seqmesh", "plugins": [
            {"type": "bridge", "bridge": host.BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(self.dir / "cni" / "ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}
        (cni_conf / "10-seqmesh.conflist").write_text(json.dumps(conflist, indent=1))
        pause = image_names(self.images / "pause.tar")[0]
        rt = "plugins.'io.containerd.cri.v1.runtime'"
        config = textwrap.dedent(f"""\
            version = 4
            root = '{d / "root"}'
            state = '{d / "state"}'
            temp = '{d / "tmp"}'
            imports = []
            # what would reach into /opt, /etc or /var/run and is not needed here
            disabled_plugins = ['io.containerd.internal.v1.opt', 'io.containerd.nri.v1.nri',
              'io.containerd.image-verifier.v1.bindir', 'io.containerd.tracing.processor.v1.otlp']

            [plugins.'io.containerd.server.v1.grpc']
              address = '{SOCKET}'
            [plugins.'io.containerd.server.v1.ttrpc']
              address = '{SOCKET}.ttrpc'
            [plugins.'io.containerd.shim.v1.manager']
              socket_dir = '{host.RUN_DIR / "s"}'
            [plugins.'io.containerd.grpc.v1.cri']
              stream_server_address = '127.0.0.1'
            [plugins.'io.containerd.cri.v1.images']
              snapshotter = 'overlayfs'
            [plugins.'io.containerd.cri.v1.images'.pinned_images]
              sandbox = '{pause}'
            [{rt}]
              # no CAP_SYS_RESOURCE here: runc cannot set the kubelet's negative OOM scores
              restrict_oom_score_adj = true
              netns_mounts_under_state_dir = true
              cdi_spec_dirs = []
            [{rt}.containerd]
              default_runtime_name = 'runc'
            [{rt}.containerd.runtimes.runc]
              runtime_type = 'io.containerd.runc.v2'
            [{rt}.containerd.runtimes.runc.options]
              BinaryName = '{self.binary("runc").resolve()}'
              Root = '{d / "runc"}'
              SystemdCgroup = false
            [{rt}.cni]
              bin_dirs = ['{self.binary("cni").resolve()}']
              conf_dir = '{cni_conf}'
            """)
        (d / "config.toml").write_text(config)
        env = {**os.environ, "PATH": f"{self._shim_dir()}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        self.cp.spawn("containerd", [str(self.binary("containerd")), "--config", str(d / "config.toml")], env=env)
        self.cp.wait_for("containerd", lambda: self.ctr("version").returncode == 0, timeout)

    def ctr(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binary("ctr")), "--address", str(SOCKET), "-n", "k8s.io", *args],
                              capture_output=True, text=True, timeout=timeout)

    def load_image(self, tarball: Path, ref: str | None = None) -> str:
        """Import an image tarball into the node's containerd (see `images.load_image`)."""
        return load_image(self.binary("ctr"), SOCKET, tarball, ref)

    def _start_kubelet(self) -> None:
        d = self.dir / "kubelet"
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": NODE_IP, "port": 10250, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": 0,
            "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{SOCKET}", "imageServiceEndpoint": f"unix://{SOCKET}",
            "podLogsDir": str(self.dir / "pod-logs"),  # `podLogsDirectory` would be silently ignored
            "volumePluginDir": str(d / "volume-plugins"),
            "clusterDNS": [NODE_IP], "clusterDomain": CLUSTER_DOMAIN,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(self.cp.pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(self.pki / "kubelet.crt"), "tlsPrivateKeyFile": str(self.pki / "kubelet.key"),
            "rotateCertificates": False, "serializeImagePulls": False,
            # a shared development machine: evict only when really short
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%",
                             "nodefs.inodesFree": "2%"},
        }
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.yaml").write_text(yaml.safe_dump(config))
        self.cp.spawn("kubelet", [
            str(self.binary("kubelet")), f"--config={d / 'config.yaml'}",
            f"--kubeconfig={self.dir / 'kubelet-client.kubeconfig'}", f"--root-dir={d / 'root'}",
            f"--cert-dir={d / 'pki'}", f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}", "--v=1"])

    def _start_scheduler(self) -> None:
        kc = self.dir / "scheduler.kubeconfig"
        self.cp.spawn("kube-scheduler", [
            str(self.binary("kube-scheduler")), f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}", "--leader-elect=false", "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}", "--v=1"])

    def _start_proxy(self) -> None:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.dir / "proxy.kubeconfig")},
            "mode": "iptables", "hostnameOverride": NODE_NAME, "clusterCIDR": POD_CIDR,
            "nodePortAddresses": [POD_CIDR],  # NodePorts on the bridge only, never on the machine's NIC
            "healthzBindAddress": f"127.0.0.1:{free_port()}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            # leave the machine's conntrack sysctls and route_localnet alone
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            "iptables": {"localhostNodePorts": False},
        }
        path = self.dir / "kube-proxy.yaml"
        path.write_text(yaml.safe_dump(config))
        self.cp.spawn("kube-proxy", [str(self.binary("kube-proxy")), f"--config={path}", "--v=1"])

    def _start_coredns(self, timeout: float) -> None:
        rbac = [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "system:coredns"},
             "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                        "verbs": ["list", "watch"]},
                       {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                        "verbs": ["list", "watch"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "system:coredns"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:coredns"}]},
        ]
        self.cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}))
        ready_port = free_port()
        corefile = self.dir / "Corefile"
        corefile.write_text(textwrap.dedent(f"""\
            {CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {{
                bind {NODE_IP}
                errors
                ready 127.0.0.1:{ready_port}
                kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
                    kubeconfig {self.dir / "coredns.kubeconfig"} seqmesh-dev
                    pods insecure
                    ttl 5
                }}
                cache 5
            }}
            """))
        self.cp.spawn("coredns", [str(self.binary("coredns")), "-conf", str(corefile)])
        self.cp.wait_for("coredns", lambda: http_ok(f"http://127.0.0.1:{ready_port}/ready"), timeout)

    def _start_storage(self) -> None:
        p = self.cp.pki
        self.cp.spawn("storage", [
            sys.executable, "-m", "seqmesh.devcluster.storage", f"--server={self.cp.server}",
            f"--ca={p / 'ca.crt'}", f"--cert={p / 'admin.crt'}", f"--key={p / 'admin.key'}",
            f"--root={self.dir / 'volumes'}", f"--node={NODE_NAME}"])
