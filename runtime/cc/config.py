"""Settings of one Central Coordinator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class EdgeEndpoint(BaseModel):
    venue: str
    address: str  # host:port of the edge's gRPC service

    @field_validator("address")
    @classmethod
    def _hostport(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"edge address must be HOST:PORT, got {v!r}")
        return v


class PeerEndpoint(BaseModel):
    region: str
    endpoint: str  # host:port of the peer CC's peer listener
    ca: Path  # the peer region's CA bundle (PEM): the only thing that makes us trust it


#: sha256("seqmesh-dev-key"): the development client's key, refused where require_api_keys is set
DEV_KEY_SHA256 = "a23cb9c5d8da385c3582a43e328e4fa1dfe453b1b5b924e9c33a7390cc180443"


class ClientSeed(BaseModel):
    """A client the settings name: its id, role and the SHA-256 (hex) of its key, never the key."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    role: Literal["trader", "admin", "monitor"] = "trader"
    key_sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    requests_per_s: float | None = Field(None, gt=0)


class RiskLimits(BaseModel):
    max_position: dict[str, Decimal] = Field(default_factory=lambda: {"BTC/USDT": Decimal(50),
                                                                     "ETH/USDT": Decimal(1000)},
                                             description="per symbol, absolute base quantity")
    default_max_position: Decimal = Field(Decimal(100_000), gt=0)
    max_order_notional: Decimal = Field(Decimal(2_000_000), gt=0, description="in quote currency")
    daily_loss_limit: Decimal = Field(Decimal(250_000), gt=0, description="realised + unrealised, quote")
    max_orders_per_s: float = Field(200.0, gt=0, description="per client")
    order_burst: float = Field(400.0, ge=1, description="per client")
    daily_reset_utc: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                 description="UTC time of day (HH:MM) when the daily loss count starts again")


class RouterSettings(BaseModel):
    #: Expected adverse price drift per millisecond of round trip, in bps of the price.
    drift_bps_per_ms: Decimal = Field(Decimal("0.02"), ge=0)
    max_reroutes: int = Field(3, ge=0, le=10, description="re-route an unfilled market remainder")


class ApiTls(BaseModel):
    """HTTPS for the client REST API: a certificate and its key (PEM files, reloaded when they rotate)."""

    cert: Path
    key: Path


class CCSettings(BaseModel):
    region: str = "local"
    listen_http: str = "127.0.0.1:8000"
    edges: list[EdgeEndpoint] = Field(default_factory=list)
    listen_peer: str | None = Field(None, description="HOST:PORT for other regions' CCs (None: no peer mesh)")
    peers: list[PeerEndpoint] = Field(default_factory=list)
    peer_probe_s: float = Field(5.0, gt=0, le=300, description="RTT probe interval to each peer")
    ca: Path
    cert: Path
    key: Path
    api_tls: ApiTls | None = Field(None, description="serve the REST API over HTTPS with this certificate "
                                                     "(None: plain HTTP, for loopback only)")
    db_path: Path = Path(".cache/cc/ledger.sqlite")
    ledger_url: str | None = Field(
        None, description="sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB (None: the SQLite file db_path);"
        " the environment variable SEQMESH_LEDGER_URL overrides it (runtime/cc/store)")
    #: clients seeded by the settings, by the digest of their key (more are made through the admin
    #: API). The default: the development client `dev` (admin) with the well-known key seqmesh-dev-key.
    clients: list[ClientSeed] = Field(default_factory=lambda: [ClientSeed(id="dev", role="admin",
                                                                          key_sha256=DEV_KEY_SHA256)])
    requests_per_s: float = Field(1000.0, gt=0, description="API requests per second per client (429 beyond)")
    request_burst_s: float = Field(2.0, gt=0, description="a client may send this many seconds' worth of "
                                   "requests at once (at least one)")
    max_body_bytes: int = Field(65_536, ge=1024, description="largest request body (a WASM upload: 1 MiB)")
    streams_per_client: int = Field(8, ge=1, description="open /v1/stream connections a client may hold")
    #: Keys must come from SEQMESH_API_KEYS_DIR (the operator always sets this): without them the
    #: CC refuses to start instead of accepting the well-known development key.
    require_api_keys: bool = False
    stale_after_s: float = Field(3.0, gt=0, description="a venue silent this long leaves NBBO and routing")
    balance_refresh_s: float = Field(1.0, gt=0)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    router: RouterSettings = Field(default_factory=RouterSettings)
    durability: Literal["power-loss", "process-crash"] = Field(
        "power-loss", description="commits survive power loss (fsync each), or only a crash of the process")
    watch_algos_namespace: str | None = Field(None, description="deploy the Algo ConfigMaps of this namespace")
    final_orders_in_memory: int = Field(
        10_000, ge=0, description="final orders kept in memory; older ones are read from the ledger when asked for")
