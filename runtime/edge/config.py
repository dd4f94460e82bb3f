"""Settings of one edge process."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class EdgeSettings(BaseModel):
    venue: str = Field(description="venue id, e.g. binance")
    exchange_id: str | None = Field(None, description="ccxt exchange id (defaults to the venue id)")
    sim_url: str | None = Field(None, description="a Binance-dialect simulator instead of the real venue")
    region: str = "local"
    symbols: list[str] = Field(default_factory=list, description="empty: every spot market the venue lists")
    api_key: SecretStr | None = None
    secret: SecretStr | None = None
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

    @property
    def ccxt_id(self) -> str:
        return self.exchange_id or self.venue

    @property
    def journal_path(self) -> Path:
        return self.state_dir / f"{self.venue}-orders.sqlite"
