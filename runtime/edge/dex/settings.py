"""What the edge needs to trade the pools of one EVM chain (venue `dex-<chain>`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class DexSettings(BaseModel):
    rpc_url: str = Field(description="the chain's JSON-RPC endpoint")
    private_key: SecretStr = Field(description="the key that signs the edge's swaps (hex)")
    deployment: Path | None = Field(None, description="the market's addresses, as `seqmesh chain --out` writes them")
    router: str | None = Field(None, description="a Uniswap V2 Router02 address: its factory's pairs are discovered")
    uniswap: Literal["v2", "v3"] = Field("v2", description=(
        "which pools trade a symbol: v3 takes the deployment file's V3 pools where there is one"))
    confirmations: int | None = Field(None, ge=1, le=64, description="blocks deep a swap must be before it is "
                                                                      "filled (default: the chain's)")
    slippage: Decimal = Field(Decimal("0.005"), ge=0, lt=1, description="a market swap's bound: min out = quote x "
                                                                          "(1 - slippage), max in = quote x (1 + it)")
    deadline_s: int = Field(300, ge=10, le=86_400, description="a swap's deadline, seconds after it is signed")
    resend_after_blocks: int = Field(3, ge=1, le=1000, description=(
        "a swap not mined after this many blocks is sent again; after twice this, replaced with a higher fee"))
    head_poll_s: float = Field(0.1, gt=0, le=10, description="how often the chain's head is asked for")
    priority_fee_wei: int | None = Field(None, ge=0, description=(
        "the tip (default: the node's eth_maxPriorityFeePerGas)"))

    @model_validator(mode="after")
    def _check(self) -> DexSettings:
        if not self.rpc_url.startswith(("http://", "https://")):
            raise ValueError(f"rpc_url must be an http(s) URL, got {self.rpc_url!r}")
        if (self.deployment is None) == (self.router is None):
            raise ValueError("give the market as either a deployment file or a router address (not both)")
        if self.uniswap == "v3" and self.deployment is None:
            raise ValueError("V3 pools are read from a deployment file (`seqmesh chain --v3 --out`), not discovered")
        if self.router is not None and not _is_address(self.router):
            raise ValueError(f"router must be an address (0x and 40 hex digits), got {self.router!r}")
        key = self.private_key.get_secret_value().removeprefix("0x")
        if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
            raise ValueError("private_key must be 32 bytes of hex")
        return self


def _is_address(text: str) -> bool:
    from eth_utils.address import is_address  # only a DEX edge's settings need it: not every edge's import

    return bool(is_address(text))
