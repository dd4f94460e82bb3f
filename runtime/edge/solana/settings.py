"""What the edge needs to trade on the Solana RFQ venue."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class SolanaSettings(BaseModel):
    rpc_url: str = Field(description="Solana JSON-RPC endpoint")
    rfq_url: str | None = Field(None, description="the RFQ maker's API (default: the RPC URL's host)")
    keypair: Path = Field(description="the taker's keypair file (solana-keygen's JSON format)")
    commitment: Literal["processed", "confirmed", "finalized"] = Field(
        "confirmed", description="how settled a transaction must be before its fill is booked")
    max_quotes: int = Field(3, ge=1, le=20, description="quotes per order when a blockhash expires before landing")
    poll_interval_s: float = Field(0.2, gt=0, le=10, description="signature status polling")
    resend_interval_s: float = Field(2.0, gt=0, le=60, description="resending a transaction until it lands")
    levels_interval_s: float = Field(0.2, gt=0, le=10, description="polling the maker's levels")

    @model_validator(mode="after")
    def _check(self) -> SolanaSettings:
        for name in ("rpc_url", "rfq_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
        if not self.keypair.is_file():
            raise ValueError(f"keypair {str(self.keypair)!r} is not a file (solana-keygen's JSON keypair)")
        return self

    @property
    def rfq_base(self) -> str:
        return (self.rfq_url or self.rpc_url).rstrip("/")
