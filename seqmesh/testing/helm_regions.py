"""Regions installed the way users install them, on a cluster with a node: a simulated venue per
edge as a pod (`seqmesh sim` from the seqmesh image) behind a Service, then one `helm install`
of charts/seqmesh per region (its values-<r>.yaml plus what points the edges at the simulators),
each in its own namespace with its own CA and API-key Secret; then `helm upgrade` with PeerLinks
carrying the other regions' CAs. The operator is the chart's own pod. Shared by the end-to-end
test and bench/bench_k8s.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqmesh.client.api import CCClient
from seqmesh.devcluster.controlplane import REPO, ControlPlane
from seqmesh.testing.kube import SEQMESH_IMAGE, apply, diagnose, get, scratch_namespace, wait_pods
from seqmesh.testing.processes import wait_until

CHART = REPO / "charts" / "seqmesh"
VENUES_NS = "venues"
SIM_PORT = 8100
CLIENTS = ("alice", "bob")  # each region's API-key Secret names two clients


@dataclass(frozen=True)
class Venue:
    name: str
    region: str
    symbols: tuple[str, ...]
    seed: int
    accounts: tuple[tuple[str, str], ...] = ()  # (key, secret) of the venue's other accounts, besides the demo's


def ns(region: str) -> str:
    return f"seqmesh-{region}"


def sim_objects(v: Venue) -> list[dict[str, Any]]:
    labels = {"app": f"sim-{v.name}"}
    container = {"name": "sim", "image": SEQMESH_IMAGE, "imagePullPolicy": "Never",
                 "args": ["sim", "--venue", v.name, "--host", "0.0.0.0", "--port", str(SIM_PORT),
                          "--seed", str(v.seed), "--symbols", ",".join(v.symbols),
                          *(a for key, secret in v.accounts for a in ("--api-key", f"{key}:{secret}"))],
                 "ports": [{"containerPort": SIM_PORT}],
                 "readinessProbe": {"tcpSocket": {"port": SIM_PORT}, "periodSeconds": 1},
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 10001}}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"sim-{v.name}"},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"sim-{v.name}"},
         "spec": {"selector": labels, "ports": [{"port": SIM_PORT, "targetPort": SIM_PORT}]}},
    ]


@dataclass
class HelmRegions:
    cp: ControlPlane
    venues: list[Venue]
    workdir: Path
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> client id -> API key
    extra_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def regions(self) -> list[str]:
        return sorted({v.region for v in self.venues})

    def start_venues(self) -> None:
        self._stack.enter_context(scratch_namespace(self.cp, VENUES_NS))
        apply(self.cp, VENUES_NS, *(o for v in self.venues for o in sim_objects(v)))
        wait_pods(self.cp, VENUES_NS, "-l app", timeout=180)

    def values(self, region: str, peers: bool) -> Path:
        """What this installation adds to values-<region>.yaml: its edges on the simulators, the
        image as loaded on the node, the API-key Secret; with `peers`, the PeerLinks."""
        doc: dict[str, Any] = {
            "image": {"pullPolicy": "Never"},
            "operator": {"resyncSeconds": 5},
            "region": {"enabled": True, "name": region, "apiKeysSecret": "seqmesh-api-keys",
                       **self.extra_values.get(region, {})},
            "edges": [{"venue": v.name, "symbols": list(v.symbols),
                       "simulatorUrl": f"http://sim-{v.name}.{VENUES_NS}.svc:{SIM_PORT}"}
                      for v in self.venues if v.region == region],
            "peerLinks": [{"remoteRegion": o, "endpoint": f"seqmesh-{o}-peer.{ns(o)}.svc:50061",
                           "caBundle": self.ca_pem(o), "rttProbeSeconds": 1}
                          for o in self.regions if o != region] if peers else [],
        }
        path = self.workdir / f"values-{region}-{'peers' if peers else 'alone'}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    def ca_pem(self, region: str) -> str:
        secret = get(self.cp, "secret", f"seqmesh-{region}-ca", ns(region))
        assert secret is not None, f"no CA for {region} yet"
        return base64.b64decode(secret["data"]["ca.crt"]).decode()

    def helm(self, verb: str, region: str, peers: bool, *extra: str) -> None:
        base = CHART / f"values-{region}.yaml"
        files = ["-f", str(base)] if base.exists() else []
        self.cp.helm(verb, "seqmesh", str(CHART), "-n", ns(region), *files, "-f", str(self.values(region, peers)),
                     *extra, timeout=300)

    def install(self) -> None:
        for region in self.regions:
            self.cp.create_namespace(ns(region))
            self.keys[region] = {client: secrets.token_hex(16) for client in CLIENTS}
            self.cp.kubectl("create", "secret", "generic", "seqmesh-api-keys", "-n", ns(region),
                            *(f"--from-literal={client}={key}" for client, key in self.keys[region].items()))
            self.helm("install", region, False)

    def link(self) -> None:
        """Once every region has made its CA: each region's PeerLinks get the others'."""
        for region in self.regions:
            wait_until(lambda r=region: get(self.cp, "secret", f"seqmesh-{r}-ca", ns(r)) is not None, 180,
                       interval=0.5, what=f"{region}'s CA")
        if len(self.regions) > 1:
            for region in self.regions:
                self.helm("upgrade", region, True)

    def wait_ready(self, timeout: float = 300) -> None:
        """Every Region, Edge and PeerLink Ready, as `kubectl wait` sees it."""
        for region in self.regions:
            kinds = ["region", "edge"] + (["peerlink"] if len(self.regions) > 1 else [])
            for kind in kinds:
                r = self.cp.kubectl("wait", "-n", ns(region), "--for=condition=Ready", kind, "--all",
                                    f"--timeout={timeout:.0f}s", check=False, timeout=timeout + 30)
                if r.returncode != 0:
                    state = self.cp.kubectl("get", "regions,edges,peerlinks", "-n", ns(region), "-o", "wide",
                                            check=False).stdout
                    items = json.loads(self.cp.kubectl("get", kind, "-n", ns(region), "-o", "json").stdout)["items"]
                    statuses = json.dumps([i.get("status") for i in items])[-2000:]
                    raise AssertionError(f"{kind}s in {ns(region)} not Ready: {r.stderr}\n"
                                         f"{diagnose(self.cp, ns(region))}\n{state}\n{statuses}")

    def api(self, region: str) -> str:
        """The CC's API (HTTPS) through its Service (the host reaches ClusterIPs through kube-proxy)."""
        svc = get(self.cp, "service", f"seqmesh-{region}-api", ns(region))
        assert svc is not None
        return f"https://{svc['spec']['clusterIP']}:8000"

    def tls(self, region: str) -> dict[str, str]:
        """How a client checks the CC's HTTPS certificate: the region's CA (from its Secret) and
        the Service name the certificate carries (the URL names the Service's IP)."""
        path = self.workdir / f"{region}-ca.crt"
        path.write_text(self.ca_pem(region))
        return {"ca": str(path), "server_name": f"seqmesh-{region}-api.{ns(region)}.svc"}

    def client(self, region: str, who: str = "alice", timeout: float = 10) -> CCClient:
        return CCClient(self.api(region), key=self.keys[region][who], timeout=timeout, **self.tls(region))

    def sim_url(self, venue: str) -> str:
        svc = get(self.cp, "service", f"sim-{venue}", VENUES_NS)
        assert svc is not None
        return f"http://{svc['spec']['clusterIP']}:{SIM_PORT}"

    def uninstall(self) -> None:
        for region in self.regions:
            self.cp.helm("uninstall", "seqmesh", "-n", ns(region), check=False, timeout=180)
            self.cp.kubectl("delete", "namespace", ns(region), "--wait=false", check=False)
        self._stack.close()
