"""Orders and fills as the simulated venue keeps them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Side(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(enum.StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    #: post-only: a limit that must rest (Binance's name; OKX's ordType `post_only`)
    LIMIT_MAKER = "LIMIT_MAKER"

    @property
    def has_price(self) -> bool:
        return self is not OrderType.MARKET


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class Status(enum.StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        return self in (Status.NEW, Status.PARTIALLY_FILLED)


class RejectReason(enum.IntEnum):
    """Binance error codes, so the dialect can answer with them unchanged."""

    UNKNOWN_ORDER = -2013
    CANCEL_REJECTED = -2011
    NEW_ORDER_REJECTED = -2010
    FILTER_FAILURE = -1013
    BAD_SYMBOL = -1121
    BAD_PARAMETER = -1100
    MANDATORY_PARAM = -1102
    BAD_ORDER_TYPE = -1116
    BAD_TIME_IN_FORCE = -1115
    BAD_API_KEY_FORMAT = -2014
    REJECTED_API_KEY = -2015
    INVALID_SIGNATURE = -1022
    INVALID_TIMESTAMP = -1021
    UNKNOWN_ROUTE = -1000
    PARAM_NOT_REQUIRED = -1106


class Cause(enum.StrEnum):
    """Why the engine refused an order, apart from any dialect's codes: a dialect whose codes
    are finer than Binance's (OKX's) tells these apart where one Binance code covers several."""

    INSUFFICIENT_BALANCE = "insufficient_balance"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    NO_ACCOUNT = "no_account"
    LOT = "lot"
    MIN_QTY = "min_qty"
    TICK = "tick"
    MIN_NOTIONAL = "min_notional"
    WOULD_TAKE = "would_take"  # a post-only order that would match on arrival
    NOT_OPEN = "not_open"  # an amend of an order that is filled, cancelled or unknown


class Rejected(Exception):
    """A request the venue refuses; the engine is unchanged when this is raised."""

    def __init__(self, code: RejectReason, msg: str, cause: Cause | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.cause = cause


@dataclass(frozen=True)
class Fill:
    """One side of one trade, as the account that traded sees it."""

    trade_id: int
    order_id: int
    account: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    time_ms: int

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass
class Order:
    order_id: int
    client_order_id: str
    account: str
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: Decimal | None
    qty: Decimal
    time_ms: int
    filled: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    status: Status = Status.NEW
    update_ms: int = 0
    locked: Decimal = Decimal(0)  # funds still locked for the unfilled part
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled
