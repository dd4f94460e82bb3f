"""Settings of one simulated venue."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator, model_validator

#: The exchange dialects the simulator speaks (REST + WebSocket), one per server.
Dialect = Literal["binance", "okx"]
#: What an API key may do at the venue.
KeyPermission = Literal["read", "trade", "withdraw"]
#: A key's permissions when the settings do not name them.
DEFAULT_PERMISSIONS: tuple[KeyPermission, ...] = ("read", "trade")


def native_dialect(venue: str) -> Dialect:
    """The venue's own dialect where the simulator speaks it (okx), else Binance's."""
    for dialect in get_args(Dialect):
        if venue == dialect:
            return dialect  # type: ignore[no-any-return]
    return "binance"


class FlowSettings(BaseModel):
    """Synthetic order flow that keeps the book alive."""

    interval_ms: int = Field(50, ge=1, le=60_000, description="one flow step every this many ms")
    volatility_bps: Decimal = Field(Decimal("0.3"), ge=0, description="random-walk step stdev per step")
    makers: int = Field(3, ge=1, le=50)
    depth: int = Field(20, ge=1, le=400, description="price levels each maker quotes per side")
    half_spread_bps: Decimal = Field(Decimal("0.5"), gt=0, description="half spread of the inner quotes")
    level_gap_bps: Decimal = Field(Decimal("0.5"), gt=0, description="distance between quoted levels")
    taker_probability: float = Field(0.3, ge=0, le=1, description="chance of a market order per step")
    refresh_levels: int = Field(2, ge=0, description="quotes re-sized at random per step")


class VenueSettings(BaseModel):
    venue: str = "binance"
    dialect: Dialect = "binance"
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT", "ETH/USDT"])
    seed: int = 1
    maker_fee: Decimal = Field(Decimal("0.001"), ge=0, le=Decimal("0.1"))
    taker_fee: Decimal = Field(Decimal("0.001"), ge=0, le=Decimal("0.1"))
    price_offset_bps: Decimal = Field(Decimal(0), ge=-5000, le=5000,
                                      description="shifts this venue's mid against the reference price")
    extra_latency_ms: float = Field(0.0, ge=0, le=10_000, description="added to every REST reply and WS frame")
    depth_interval_ms: int = Field(20, ge=1, le=1000, description="diff-depth frames are flushed this often")
    flow: FlowSettings = Field(default_factory=lambda: FlowSettings())
    #: api key -> (secret, starting balances); the key is also the account name.
    api_keys: dict[str, str] = Field(default_factory=lambda: {"seqmesh-demo": "seqmesh-demo-secret"})
    #: api key -> passphrase, for dialects that sign with one too (OKX); every key needs one there.
    passphrases: dict[str, str] = Field(default_factory=lambda: {"seqmesh-demo": "seqmesh-demo-passphrase"})
    #: api key -> what it may do ("read", "trade", "withdraw"), reported the way the dialect does
    #: (Binance's apiRestrictions, OKX's account config `perm`); a key not named reads and trades.
    permissions: dict[str, list[KeyPermission]] = Field(default_factory=dict)
    #: OKX dialect: each API key may call each private endpoint this often per window, as OKX
    #: limits "60 requests per 2 seconds" per endpoint; more is refused with code 50011 (HTTP 429).
    rate_limit: int = Field(60, ge=1, le=1_000_000, description="requests per window, per API key and endpoint")
    rate_limit_window_ms: int = Field(2000, ge=1, le=3_600_000)
    starting_balances: dict[str, Decimal] = Field(
        default_factory=lambda: {"USDT": Decimal(1_000_000), "BTC": Decimal(10), "ETH": Decimal(200),
                                 "SOL": Decimal(2000), "XRP": Decimal(100_000)}
    )

    @field_validator("symbols")
    @classmethod
    def _known(cls, symbols: list[str]) -> list[str]:
        from .instruments import resolve

        resolve(symbols)
        if not symbols:
            raise ValueError("at least one symbol")
        return symbols

    def key_permissions(self, api_key: str) -> tuple[KeyPermission, ...]:
        return tuple(self.permissions.get(api_key, DEFAULT_PERMISSIONS))

    @model_validator(mode="after")
    def _passphrases(self) -> VenueSettings:
        missing = sorted(k for k in self.api_keys if k not in self.passphrases)
        if self.dialect == "okx" and missing:
            raise ValueError(f"the okx dialect signs with a passphrase: API keys {missing} have none")
        return self
