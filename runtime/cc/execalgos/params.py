"""Parameters of each execution algorithm, as clients give them (JSON), validated with limits
that name the problem."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from seqmesh.runtime.book.numbers import BadInput, parse_decimal

from ..domain import OrderType
from ..errors import OrderError

Fraction = Annotated[float, Field(ge=0, le=0.9)]


def _quantity(positive: bool) -> BeforeValidator:
    """A base quantity, bounded by the API's one number parser (a JSON number, or a Decimal given
    in code, is read as its plain text)."""
    def parse(value: object, info: ValidationInfo) -> Decimal:
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            value = format(value if isinstance(value, Decimal) else Decimal(repr(value)), "f")
        return parse_decimal(value, info.field_name or "quantity", positive)
    return BeforeValidator(parse)


Quantity = Annotated[Decimal, _quantity(positive=True)]
QuantityOrZero = Annotated[Decimal, _quantity(positive=False)]


class TwapParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_s: float = Field(gt=0, le=7 * 86_400, description="spread the order over this many seconds")
    slices: int | None = Field(None, ge=1, le=10_000, description="number of slices (or give interval_s)")
    interval_s: float | None = Field(None, gt=0, description="seconds between slices (or give slices)")
    time_jitter: Fraction = Field(0.0, description="each slice time moves by up to +/- half this share of an interval")
    size_jitter: Fraction = Field(0.0, description="each slice size varies by up to +/- this share")

    @model_validator(mode="after")
    def _one_of(self) -> TwapParams:
        if (self.slices is None) == (self.interval_s is None):
            raise ValueError("give exactly one of slices or interval_s")
        return self

    @property
    def n(self) -> int:
        if self.slices is not None:
            return self.slices
        assert self.interval_s is not None
        return max(1, round(self.duration_s / self.interval_s))


class VwapParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_s: float = Field(gt=0, le=7 * 86_400)
    participation: float = Field(gt=0, le=0.5, description="target share of the market's traded volume")
    interval_s: float = Field(5.0, gt=0, le=3600, description="seconds between participation checks")
    min_slice: QuantityOrZero = Field(Decimal(0), description="no slice below this (base quantity)")
    max_slice: Quantity | None = Field(None, description="no slice above this (base quantity)")
    profile: list[float] | None = Field(None, min_length=1, max_length=1000,
                                        description="expected volume share per equal part of the duration")

    @model_validator(mode="after")
    def _bounds(self) -> VwapParams:
        if self.max_slice is not None and self.max_slice < self.min_slice:
            raise ValueError("max_slice is below min_slice")
        if self.profile is not None and (min(self.profile) < 0 or sum(self.profile) <= 0):
            raise ValueError("profile weights must be >= 0 with a positive sum")
        return self


class IcebergParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display: Quantity = Field(description="quantity shown at once")
    display_jitter: Fraction = Field(0.0, description="each shown part is smaller by up to this share")


PARAMS: dict[OrderType, type[BaseModel]] = {OrderType.TWAP: TwapParams, OrderType.VWAP: VwapParams,
                                            OrderType.ICEBERG: IcebergParams}


def parse(kind: OrderType, raw: dict[str, Any] | None) -> BaseModel:
    try:
        return PARAMS[kind].model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or kind.value
        refused = first.get("ctx", {}).get("error")
        problem = str(refused) if isinstance(refused, BadInput) else f"{field}: {first['msg']}"  # names the field
        raise OrderError("INVALID_PARAMS", f"{kind.value} params: {problem}", 400) from None
