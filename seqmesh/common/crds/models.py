"""Spec and status of each seqmesh custom resource.

These models are the single source of the CRDs' OpenAPI schemas (`generate.py`), so the API
server itself refuses an invalid manifest with a message naming the field; the operator
parses specs with them too.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seqmesh.common.venues import VENUE_IDS, venue_kind
from seqmesh.common.wasmfile import MAX_WASM_BYTES

GROUP = "seqmesh.io"
VERSION = "v1alpha1"
DNS_LABEL = r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$"
SYMBOL = r"^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$"
DECIMAL = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"
HOSTPORT = r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$"
CIDR = r"^[0-9A-Fa-f.:]{2,39}/[0-9]{1,3}$"  # an IPv4 or IPv6 network, e.g. 203.0.113.0/24
HOST = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"  # a DNS name or an IPv4 address
QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
CPU = r"^[0-9]+(\.[0-9]+)?m?$"  # cores, or millicores with m
VenueId = Literal[VENUE_IDS]  # type: ignore[valid-type]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


#: Ready: the resource does its job (for a Region or an Edge: its pod is Ready at the current
#: configuration; an Algo: running in its wanted state on every edge). Degraded: it cannot get
#: there without a change (a bad manifest, a crashing pod). Neither: still progressing.
#: Published (Algo): its binary is in the ConfigMap; Deployed (Algo): as its region's CC reports it.
ConditionType = Literal["Ready", "Degraded", "Published", "Deployed"]


class Condition(_Model):
    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(max_length=128)
    message: str = Field("", max_length=4096)
    lastTransitionTime: str = Field(json_schema_extra={"format": "date-time"})
    observedGeneration: int = Field(0, ge=0)


class _Status(_Model):
    observedGeneration: int = Field(0, ge=0)
    conditions: list[Condition] = Field(default_factory=list)


class RiskSpec(_Model):
    maxOrderNotional: str | None = Field(None, pattern=DECIMAL, description="quote currency")
    dailyLossLimit: str | None = Field(None, pattern=DECIMAL)
    maxOrdersPerSecond: float | None = Field(None, gt=0, le=100_000)


class SecretKeyRef(_Model):
    name: str = Field(pattern=DNS_LABEL, description="a Secret in the Region's namespace")
    key: str = Field("url", pattern=r"^[-._a-zA-Z0-9]{1,253}$")


class StorageSpec(_Model):
    """The PersistentVolumeClaims of the CC (ledger, algo store) and the edges (journals)."""

    storageClassName: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                                         description="unset: the cluster's default StorageClass")
    ccSize: str = Field("10Gi", pattern=QUANTITY)
    edgeSize: str = Field("1Gi", pattern=QUANTITY)
    retainOnDelete: bool = Field(True, description="keep the claims when the Region or Edge is deleted "
                                 "(or the Helm release uninstalled); false: delete them with it")


class ContainerResources(_Model):
    """What one process's container asks of its node (a Kubernetes CPU and memory request) and
    the memory it may not exceed."""

    cpu: str = Field("100m", pattern=CPU, description="CPU request (e.g. 100m, 1)")
    memory: str = Field("256Mi", pattern=QUANTITY, description="memory request")
    memoryLimit: str = Field("1Gi", pattern=QUANTITY, description="memory limit (the container is OOM-killed beyond)")


class ResourcesSpec(_Model):
    """Requests and limits of the region's CC and of each of its edges."""

    cc: ContainerResources = Field(default_factory=ContainerResources)
    edge: ContainerResources = Field(default_factory=ContainerResources)


class RegionSpec(_Model):
    """One region: its Central Coordinator, services, configuration and certificate authority."""

    region: str = Field(pattern=DNS_LABEL, description="region name, e.g. na, eu, ap")
    image: str = Field("ghcr.io/seqmesh/seqmesh:0.1.0", min_length=1, max_length=512)
    apiPort: int = Field(8000, ge=1, le=65535)
    peerPort: int = Field(50061, ge=1, le=65535)
    certificateLifetimeSeconds: int = Field(7_776_000, ge=10, le=315_360_000,
                                            description="leaf certificates; renewed at 2/3 of it")
    apiKeysSecret: str | None = Field(None, pattern=DNS_LABEL,
                                      description="Secret of client API keys: each key a client id, each value its "
                                                  "API key. Without it the CC refuses to start")
    peerAdvertise: list[str] = Field(default_factory=list, max_length=16,
                                     json_schema_extra={"items": {"type": "string", "pattern": HOST}},
                                     description="addresses other regions dial for this CC's peer port (e.g. a "
                                                 "load balancer's name): named in the CC's certificate")
    caSecret: str | None = Field(None, pattern=DNS_LABEL,
                                 description="bring the region's CA: a kubernetes.io/tls Secret (tls.crt, tls.key) the "
                                             "operator signs with and never writes; unset: it makes one")
    apiTlsSecret: str | None = Field(None, pattern=DNS_LABEL,
                                     description="the REST API's HTTPS certificate: a kubernetes.io/tls Secret "
                                                 "(tls.crt, tls.key); unset: the CC's own, from the region's CA")
    ledgerUrlSecret: SecretKeyRef | None = Field(None, description="a PostgreSQL URL for the ledger "
                                                 "(SEQMESH_LEDGER_URL), from this Secret key")
    storage: StorageSpec = Field(default_factory=StorageSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    risk: RiskSpec | None = None
    durability: Literal["power-loss", "process-crash"] = Field(
        "power-loss", description="what the CC's ledger and the edges' journals survive: power loss (an fsync per "
        "commit) or only a crash of the process (faster)")


class RegionStatus(_Status):
    readyReplicas: int = Field(0, ge=0, description="the CC's Ready pods (0 or 1)")
    configHash: str | None = Field(None, description="sha256 of the CC's configuration and peer CAs")
    caSecret: str | None = None
    ccCertificateSecret: str | None = None
    certificateNotAfter: str | None = None
    apiEndpoint: str | None = None
    edges: int = Field(0, ge=0)


class ChainEdgeSpec(_Model):
    """A DEX venue's chain: the node the edge reads and sends through, and how it swaps."""

    rpcUrl: str = Field(pattern=r"^(https?|wss?)://[^\s]+$", description="the chain's JSON-RPC endpoint")
    router: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="a Uniswap V2 router; its factory's pools trade")
    confirmations: int | None = Field(None, ge=1, le=64, description="blocks deep before a swap counts as filled "
                                      "(default: the chain's)")
    slippage: str = Field("0.005", pattern=DECIMAL, description="a market swap's bound off the pool's quote")


class SolanaEdgeSpec(_Model):
    """The Solana RFQ venue: its JSON-RPC endpoint and maker API."""

    rpcUrl: str = Field(pattern=r"^https?://[^\s]+$")
    rfqUrl: str | None = Field(None, pattern=r"^https?://[^\s]+$", description="default: the RPC URL")
    commitment: Literal["processed", "confirmed", "finalized"] = "confirmed"


class EdgeSpec(_Model):
    """The edge server of one venue, in a region."""

    # A CEX trades through ccxt (credentials: apiKey, secret and, where the venue has one,
    # passphrase); a dex-<chain> venue needs `chain` (its signing key: privateKey); solana needs
    # `solana` (its keypair: keypair, solana-keygen JSON).

    # The API server refuses what the edge would refuse at start (CEL, as the validator below).
    model_config = ConfigDict(populate_by_name=True, extra="forbid", json_schema_extra={"x-kubernetes-validations": [
        {"rule": "!self.venue.startsWith('dex-') || has(self.chain)",
         "message": "a dex-<chain> venue needs spec.chain (rpcUrl, router)"},
        {"rule": "self.venue.startsWith('dex-') || !has(self.chain)",
         "message": "spec.chain is for dex-<chain> venues"},
        {"rule": "self.venue != 'solana' || has(self.solana)",
         "message": "the solana venue needs spec.solana (rpcUrl)"},
        {"rule": "self.venue == 'solana' || !has(self.solana)", "message": "spec.solana is for the solana venue"},
    ]})

    region: str = Field(pattern=DNS_LABEL, description="name of the Region resource")
    venue: VenueId
    exchangeId: str | None = Field(None, pattern=r"^[a-z0-9]{2,32}$", description="ccxt id if not the venue id")
    symbols: list[str] = Field(min_length=1, max_length=500,
                               json_schema_extra={"items": {"type": "string", "pattern": SYMBOL}})
    credentialsSecret: str | None = Field(None, pattern=DNS_LABEL,
                                          description="Secret with the venue's credentials (apiKey, secret, "
                                                      "passphrase; privateKey for a DEX; keypair for Solana)")
    wrappingKeysSecret: str | None = Field(None, pattern=DNS_LABEL,
                                           description="Secret of the venue's wrapping keys (*.pem, X25519 PKCS#8; "
                                                       "the current one last by name), brought by you; default: "
                                                       "seqmesh-<region>-<venue>-wrapping, made by the operator")
    simulatorUrl: str | None = Field(None, pattern=r"^https?://[^\s]+$", description="trade a simulator instead")
    simulatorDialect: Literal["binance", "okx"] = Field("binance", description="the dialect the simulator speaks")
    rateLimitPerSecond: float = Field(20, gt=0, le=10_000)
    chain: ChainEdgeSpec | None = Field(None, description="dex-<chain> venues: the chain")
    solana: SolanaEdgeSpec | None = Field(None, description="the solana venue: its RPC and RFQ endpoints")

    @model_validator(mode="after")
    def _venue_settings(self) -> EdgeSpec:
        kind = venue_kind(self.venue)
        if kind == "dex" and self.chain is None:
            raise ValueError(f"{self.venue} is a DEX venue: it needs spec.chain (rpcUrl, router)")
        if kind == "rfq" and self.solana is None:
            raise ValueError("the solana venue needs spec.solana (rpcUrl)")
        if kind != "dex" and self.chain is not None:
            raise ValueError(f"spec.chain is for dex-<chain> venues, not {self.venue}")
        if kind != "rfq" and self.solana is not None:
            raise ValueError(f"spec.solana is for the solana venue, not {self.venue}")
        return self


class EdgeStatus(_Status):
    readyReplicas: int = Field(0, ge=0)
    certificateSecret: str | None = None
    wrappingKeysSecret: str | None = None
    wrappingKeyIds: list[str] = Field(default_factory=list, description="the wrapping keys' ids, the current one last")
    service: str | None = None


class AlgoSpec(_Model):
    """A WebAssembly algo: its binary, the edges it runs on, and whether it should run."""

    region: str = Field(pattern=DNS_LABEL)
    wasm: str = Field(max_length=(MAX_WASM_BYTES * 4) // 3 + 4, json_schema_extra={"format": "byte"},
                      description="the .wasm module, base64 (at most 1 MiB decoded)")
    edges: list[str] = Field(min_length=1, max_length=64,
                             json_schema_extra={"items": {"type": "string", "pattern": DNS_LABEL}},
                             description="names of Edge resources")
    symbol: str = Field("BTC/USDT", pattern=SYMBOL, description="the book it runs on")
    state: Literal["Running", "Stopped"] = "Stopped"
    params: dict[str, str] = Field(default_factory=dict, description="passed to on_start")


class AlgoEdgeStatus(_Model):
    """One edge's instance, as the region's CC reports it."""

    edge: str
    state: str
    reason: str | None = None
    calls: int | None = None
    orders: int | None = None
    fills: int | None = None
    messages: int | None = None
    traps: int | None = None


class AlgoStatus(_Status):
    state: str | None = None
    edges: int = Field(0, ge=0)
    ready: bool = False
    configMap: str | None = None
    sha256: str | None = None
    size: int = Field(0, ge=0)
    perEdge: list[AlgoEdgeStatus] = Field(default_factory=list)


class PeerLinkSpec(_Model):
    """A link from this region's CC to another region's."""

    region: str = Field(pattern=DNS_LABEL, description="the local Region")
    remoteRegion: str = Field(pattern=DNS_LABEL)
    endpoint: str = Field(pattern=HOSTPORT, description="the remote CC's peer endpoint")
    caBundle: str = Field(pattern=r"-----BEGIN CERTIFICATE-----", max_length=65536,
                          description="the remote region's CA certificate(s), PEM")
    rttProbeSeconds: int = Field(5, ge=1, le=3600)
    sourceCIDRs: list[str] = Field(
        default_factory=list, max_length=32, json_schema_extra={"items": {"type": "string", "pattern": CIDR}},
        description="where the remote CC's connections come from as this cluster sees them (e.g. the other "
                    "cluster's egress addresses): the CC's NetworkPolicy admits them on the peer port, besides "
                    "the remote region's CC pod in this cluster")

    @model_validator(mode="after")
    def _cidrs(self) -> PeerLinkSpec:
        for cidr in self.sourceCIDRs:
            try:
                if "/" not in cidr:
                    raise ValueError("no /prefix")
                ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ValueError(f"sourceCIDRs: {cidr!r} is not a network address with its prefix "
                                 f"(e.g. 203.0.113.0/24): {exc}") from None
        return self


class PeerLinkStatus(_Status):
    configMap: str | None = None


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    columns: tuple[tuple[str, str, str], ...]  # (name, type, jsonPath)


READY = '.status.conditions[?(@.type=="Ready")].status'
KINDS: tuple[Kind, ...] = (
    Kind("Region", "regions", ("rg",), RegionSpec, RegionStatus,
         (("Region", "string", ".spec.region"), ("Edges", "integer", ".status.edges"), ("Ready", "string", READY))),
    Kind("Edge", "edges", ("ed",), EdgeSpec, EdgeStatus,
         (("Region", "string", ".spec.region"), ("Venue", "string", ".spec.venue"), ("Ready", "string", READY))),
    Kind("Algo", "algos", ("al",), AlgoSpec, AlgoStatus,
         (("State", "string", ".spec.state"), ("Edges", "integer", ".status.edges"), ("Ready", "string", READY))),
    Kind("PeerLink", "peerlinks", ("pl",), PeerLinkSpec, PeerLinkStatus,
         (("Region", "string", ".spec.region"), ("Remote", "string", ".spec.remoteRegion"),
          ("Ready", "string", READY))),
)
