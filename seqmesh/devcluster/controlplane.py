"""Start and stop etcd, kube-apiserver and kube-controller-manager as real processes, and
with `node=True` a real node (`node.py`: containerd, kubelet, scheduler, kube-proxy, CoreDNS,
a storage provisioner) so pods run.

Certificates (a CA, the API server's serving certificate, a service-account key pair, an
admin client certificate in `system:masters`) are made with `cryptography`; RBAC is on. Without
a node, pods stay Pending: controllers, garbage collection and admission are real, and the API
server listens on 127.0.0.1. With one, it listens on the node's address (pods reach it through
the `kubernetes` Service), authorizes Node,RBAC and admits service accounts.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import yaml
from cryptography.hazmat.primitives import serialization

from seqmesh.common.certs import KeyPair, issue_leaf, make_ca
from seqmesh.common.children import die_with_parent

from .binaries import REPO, binary
from .net import free_port, http_ok
from .node import NODE_IP, SERVICE_CIDR, Node

__all__ = ["REPO", "ControlPlane", "binary", "free_port"]


class ControlPlane:
    def __init__(self, workdir: Path, node: bool = False, wait_for_node: float = 0.0) -> None:
        """`node`: also run a node (one per machine; `wait_for_node` seconds to wait for another
        one to stop before failing)."""
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.api_port = free_port()
        self.kcm_port = free_port()
        self.kubeconfig = workdir / "kubeconfig"
        self.node = Node(self, wait_for_node) if node else None
        self.address = NODE_IP if node else "127.0.0.1"
        self.server = f"https://{self.address}:{self.api_port}"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self, timeout: float = 90.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            if self.node:
                self.node.prepare()
            self._pki()
            self._start_etcd(timeout)
            self._start_apiserver(timeout)
            self._start_controller_manager()
            self._wait_for_namespace(timeout)
            if self.node:
                self.node.start(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every process, newest first (the node before the control plane), then undo the
        node's changes to the host."""
        self._stop_processes(timeout)
        if self.node:
            problems = self.node.cleanup()
            if problems:
                raise RuntimeError("the node left behind: " + "; ".join(problems))

    def _stop_processes(self, timeout: float) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout)

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a cluster process logging to `<workdir>/<name>.log`; `stop` stops it."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                preexec_fn=die_with_parent())  # nothing outlives a killed `seqmesh dev cluster`
        log.close()
        self.procs[name] = proc
        return proc

    def _check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}; its log ends:\n{tail}")

    # -- pieces ----------------------------------------------------------------------------

    def _pki(self) -> None:
        pki = self.workdir / "pki"
        self.ca = make_ca("seqmesh dev cluster CA")
        self.ca.write(pki, "ca")
        issue_leaf(self.ca, common_name="kube-apiserver", server=True, client=False,
                   dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                              "kubernetes.default.svc.cluster.local"),
                   ips=tuple(dict.fromkeys(("127.0.0.1", self.address, "10.0.0.1")))).write(pki, "apiserver")
        # The API server's identity towards kubelets (logs, exec, port-forward).
        issue_leaf(self.ca, common_name="kube-apiserver-kubelet-client", organizations=("system:masters",),
                   dns_names=(), ips=(), server=False).write(pki, "kubelet-client")
        self.admin = issue_leaf(self.ca, common_name="seqmesh-admin", organizations=("system:masters",),
                                dns_names=(), ips=(), server=False, client=True)
        self.admin.write(pki, "admin")
        sa = issue_leaf(self.ca, common_name="service-accounts", dns_names=(), ips=())
        (pki / "sa.key").write_bytes(sa.key_pem)
        (pki / "sa.pub").write_bytes(sa.private_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.pki = pki
        self.write_kubeconfig(self.kubeconfig, self.admin, "seqmesh-admin")

    def write_kubeconfig(self, path: Path, user: KeyPair, name: str) -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "seqmesh-dev",
            "clusters": [{"name": "seqmesh-dev", "cluster": {"server": self.server,
                                                             "certificate-authority-data": _b64(self.ca.cert_pem)}}],
            "users": [{"name": name, "user": {"client-certificate-data": _b64(user.cert_pem),
                                              "client-key-data": _b64(user.key_pem)}}],
            "contexts": [{"name": "seqmesh-dev", "context": {"cluster": "seqmesh-dev", "user": name}}],
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def _start_etcd(self, timeout: float) -> None:
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        self.spawn("etcd", [str(binary("etcd")), "--name", "default", "--data-dir", str(self.workdir / "etcd"),
                             "--listen-client-urls", client, "--advertise-client-urls", client,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", f"default={peer}", "--unsafe-no-fsync",
                             "--log-level", "warn"])
        self.wait_for("etcd", lambda: http_ok(f"{client}/health"), timeout)

    def _start_apiserver(self, timeout: float) -> None:
        p = self.pki
        self.spawn("kube-apiserver", [
            str(binary("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}", f"--secure-port={self.api_port}",
            f"--bind-address={self.address}", f"--advertise-address={self.address}",
            f"--cert-dir={self.workdir / 'certs'}",
            f"--tls-cert-file={p / 'apiserver.crt'}", f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={p / 'ca.crt'}", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true", f"--service-account-issuer={self.server}/",
            f"--service-account-key-file={p / 'sa.pub'}", f"--service-account-signing-key-file={p / 'sa.key'}",
            "--enable-priority-and-fairness=false", "--v=1",
            *(["--authorization-mode=Node,RBAC", f"--kubelet-client-certificate={p / 'kubelet-client.crt'}",
               f"--kubelet-client-key={p / 'kubelet-client.key'}", f"--kubelet-certificate-authority={p / 'ca.crt'}",
               "--kubelet-preferred-address-types=InternalIP"] if self.node else
              # no pods run: no service-account tokens to mount
              ["--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount"]),
        ])
        ctx = ssl.create_default_context(cafile=str(p / "ca.crt"))
        ctx.load_cert_chain(str(p / "admin.crt"), str(p / "admin.key"))
        self.wait_for("kube-apiserver", lambda: http_ok(f"{self.server}/readyz", ctx), timeout)

    def _start_controller_manager(self) -> None:
        self.spawn("kube-controller-manager", [
            str(binary("kube-controller-manager")), f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}", f"--authorization-kubeconfig={self.kubeconfig}",
            "--controllers=*", f"--service-account-private-key-file={self.pki / 'sa.key'}",
            f"--root-ca-file={self.pki / 'ca.crt'}", "--use-service-account-credentials=false",
            "--leader-elect=false", f"--secure-port={self.kcm_port}", "--bind-address=127.0.0.1", "--v=1",
        ])

    def _wait_for_namespace(self, timeout: float) -> None:
        self.wait_for("kube-apiserver", lambda: self.kubectl("get", "namespace", "default", check=False)
                   .returncode == 0, timeout)

    def wait_for(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        """Poll `ready` until true, failing early with the log's tail if process `name` dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready in {timeout}s; see {self.workdir / (name + '.log')}")

    # -- use -------------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args], input=input,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def create_namespace(self, name: str, timeout: float = 120.0) -> None:
        """Create namespace `name`, first waiting out a namespace of that name still being deleted
        (an earlier test's, deleted without waiting: its finalizers may take a while)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.kubectl("create", "namespace", name, check=False)
            if result.returncode == 0:
                return
            if "being deleted" not in result.stderr or time.monotonic() > deadline:
                raise RuntimeError(f"kubectl create namespace {name} failed ({result.returncode}): "
                                   f"{result.stderr.strip()}")
            time.sleep(0.5)

    def wait_established(self, *crds: str, timeout: float = 60.0) -> None:
        """Wait until each CRD (`regions.seqmesh.io`, ...) is Established. Polled rather than
        `kubectl wait`, which fails instead of waiting while a new CRD has no conditions yet."""
        jsonpath = '{.status.conditions[?(@.type=="Established")].status}'
        for crd in crds:  # the API server establishes them: its liveness is what wait_for checks
            def established(crd: str = crd) -> bool:
                return self.kubectl("get", f"crd/{crd}", "-o", f"jsonpath={jsonpath}",
                                    check=False).stdout.strip() == "True"

            self.wait_for("kube-apiserver", established, timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HELM_CACHE_HOME": str(self.workdir / "helm"),
               "HELM_CONFIG_HOME": str(self.workdir / "helm"), "HELM_DATA_HOME": str(self.workdir / "helm")}
        result = subprocess.run([str(binary("helm")), *args], capture_output=True, text=True, timeout=timeout,
                                env=env)
        if check and result.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

