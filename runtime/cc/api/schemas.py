"""Request bodies of the client REST API (responses are plain JSON documents, see docs/api.md)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

_PLAIN_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def exact(value: object, name: str) -> Decimal:
    """Quantities and prices are exact decimal strings; floats would lose precision on the way in."""
    if not isinstance(value, str) or not _PLAIN_DECIMAL.match(value.strip()):
        raise ValueError(f"{name} must be a decimal string like \"0.5\", got {value!r}")
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"{name} is not a decimal number: {value!r}") from None


class OrderRequest(BaseModel):
    symbol: str = Field(examples=["BTC/USDT"])
    side: Literal["buy", "sell"]
    quantity: Decimal = Field(description="exact decimal string, base currency", examples=["0.5"])
    type: Literal["market", "limit", "twap", "vwap", "iceberg"] = "market"
    price: Decimal | None = Field(None, description="limit price, exact decimal string (TWAP/VWAP: an optional "
                                  "price guard; iceberg: its limit)")
    params: dict[str, Any] | None = Field(None, description="an execution algorithm's parameters (docs/api.md)",
                                          examples=[{"duration_s": 600, "slices": 10}])
    client_order_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                                        description="idempotency key: resubmitting returns the same order")

    @field_validator("quantity", mode="before")
    @classmethod
    def _qty(cls, v: object) -> Decimal:
        return exact(v, "quantity")

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: object) -> Decimal | None:
        return None if v is None else exact(v, "price")

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        return normalise_symbol(v)


class KillSwitchRequest(BaseModel):
    enabled: bool


def normalise_symbol(symbol: str) -> str:
    """Accept `BTC/USDT`, `BTC-USDT` and `btc_usdt`; answer in ccxt's unified form."""
    s = symbol.strip().upper().replace("-", "/").replace("_", "/")
    if s.count("/") != 1 or not all(s.split("/")):
        raise ValueError(f"symbol must look like BTC/USDT, got {symbol!r}")
    return s
