"""Settings of one edge process."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from seqmesh.common.venues import venue_kind

from .dex.settings import DexSettings
from .solana.settings import SolanaSettings


class EdgeSettings(BaseModel):
    venue: str = Field(description="venue id, e.g. binance")
    exchange_id: str | None = Field(None, description="ccxt exchange id (defaults to the venue id)")
    sim_url: str | None = Field(None, description="a simulator instead of the real venue")
    sim_dialect: Literal["binance", "okx"] = Field("binance", description="the dialect the simulator at sim_url speaks")
    region: str = "local"
    symbols: list[str] = Field(default_factory=list, description="empty: every spot market the venue lists")
    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    passphrase: SecretStr | None = Field(None, description="the API key's passphrase, for venues that sign with "
                                                            "one (OKX); ccxt's `password`")
    solana: SolanaSettings | None = Field(None, description="venue solana: its JSON-RPC, RFQ maker and keypair")
    dex: DexSettings | None = Field(None, description="venue dex-<chain>: its chain's RPC, signing key and pools")
    wrapping_keys: Path | None = Field(None, description=(
        "directory of the X25519 keys clients' credentials are wrapped for (*.pem, the current one last by "
        "name); default: <state_dir>/wrapping-keys, created with a first key"))
    record: Path | None = Field(None, description="write the market data to this recording (docs/backtest.md)")
    listen: str = "127.0.0.1:0"
    ca: Path
    cert: Path
    key: Path
    #: Only clients whose certificate names this role (and region) may call the edge.
    allowed_client_role: str = "cc"
    state_dir: Path = Path(".cache/edge")
    rate_limit_per_s: float = Field(20.0, gt=0, description="requests per second to the venue")
    rate_limit_burst: float = Field(40.0, ge=1)
    poll_interval_s: float = Field(0.25, gt=0, le=60, description="how often open orders' trades are polled")
    durability: Literal["power-loss", "process-crash"] = Field(
        "power-loss", description="commits survive power loss (fsync each), or only a crash of the process")
    commit_delay_ms: float = Field(2.0, ge=0, le=10_000, description=(
        "how long a recorded event may wait for its commit: acks go out first and more events share "
        "the fsync; the event stream serves an event once committed"))

    @model_validator(mode="after")
    def _check(self) -> EdgeSettings:
        if self.sim_url is not None and not self.sim_url.startswith(("http://", "https://")):
            raise ValueError(f"sim_url must be an http(s) URL, got {self.sim_url!r}")
        if ":" not in self.listen:
            raise ValueError(f"listen must be HOST:PORT, got {self.listen!r}")
        return self

    @model_validator(mode="after")
    def _check_rfq(self) -> EdgeSettings:
        rfq = venue_kind(self.venue) == "rfq"
        if rfq and self.solana is None:
            raise ValueError(f"venue {self.venue!r} needs its Solana settings (--solana-rpc, --solana-keypair)")
        if not rfq and self.solana is not None:
            raise ValueError(f"venue {self.venue!r} is not the Solana venue: it takes no Solana settings")
        return self

    @model_validator(mode="after")
    def _check_dex(self) -> EdgeSettings:
        if (venue_kind(self.venue) == "dex") != (self.dex is not None):
            raise ValueError(f"venue {self.venue!r}: the DEX settings (chain RPC URL, key, pools) are for the "
                             f"dex-<chain> venues only, and they need them")
        return self

    @property
    def ccxt_id(self) -> str:
        return self.exchange_id or self.venue

    @property
    def client_id(self) -> str:
        """The ccxt class that talks to the venue: the simulator's dialect, or the exchange's own."""
        return self.sim_dialect if self.sim_url else self.ccxt_id

    @property
    def journal_path(self) -> Path:
        return self.state_dir / f"{self.venue}-orders.sqlite"
