"""The client REST API's documents: request bodies (parsed strictly, see parsing.py) and the
responses each endpoint answers, as the served OpenAPI declares them.

Responses are rendered from plain dicts by orjson; these models describe them (the API contract
test checks every answer against them). They allow properties beyond those declared, so a field
added to a view is never silently dropped: declare it here too."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..domain import ParentState, TimeInForce
from .parsing import parse_decimal, parse_symbol

#: a quantity or price as a request carries it: a decimal string (parsing.py), a Decimal inside
DecimalText = Annotated[Decimal, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,12})?$",
                                                 "maxLength": 40, "examples": ["0.5"]})]


#: a client order id: the client's idempotency key within a region
CLIENT_ORDER_ID = r"^[A-Za-z0-9._:-]{1,64}$"


class OrderRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.01"},
        {"symbol": "BTC/USDT", "side": "sell", "quantity": "0.01", "type": "limit", "price": "90000"},
        {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.1", "type": "twap",
         "params": {"duration_s": 60, "slices": 6}}]})

    symbol: str = Field(examples=["BTC/USDT"], description="ccxt's unified symbol; BTC-USDT and btc_usdt too")
    side: Literal["buy", "sell"]
    quantity: DecimalText = Field(description="exact decimal string, base currency")
    type: Literal["market", "limit", "twap", "vwap", "iceberg"] = "market"
    price: DecimalText | None = Field(None, description="limit price, exact decimal string (TWAP/VWAP: an "
                                      "optional price guard; iceberg: its limit)")
    params: dict[str, Any] | None = Field(None, description="an execution algorithm's parameters (docs/api.md)",
                                          examples=[{"duration_s": 600, "slices": 10}])
    client_order_id: str | None = Field(None, pattern=CLIENT_ORDER_ID,
                                        description="idempotency key within the region: the same order again "
                                        "returns it (200), a different order with it is a 409 conflict")
    time_in_force: Literal["gtc", "fok", "post_only"] = Field(
        "gtc", description="a limit's: gtc (default), fok (all of it at once at one venue, or nothing), "
        "post_only (rests without taking, or is refused)")
    post_only: bool = Field(False, description="the same as time_in_force post_only")

    @model_validator(mode="after")
    def _one_time_in_force(self) -> OrderRequest:
        if self.post_only and self.time_in_force == "fok":
            raise ValueError("post_only and time_in_force fok exclude each other")
        return self

    @property
    def tif(self) -> TimeInForce:
        return TimeInForce.POST_ONLY if self.post_only else TimeInForce(self.time_in_force)

    @field_validator("quantity", mode="before")
    @classmethod
    def _qty(cls, v: object) -> Decimal:
        return parse_decimal(v, "quantity")

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: object) -> Decimal | None:
        return None if v is None else parse_decimal(v, "price")

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol(cls, v: object) -> str:
        return parse_symbol(v)


class AmendRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"quantity": "0.005"}, {"price": "89950"}]})

    quantity: DecimalText | None = Field(None, description="the new total quantity, filled part included")
    price: DecimalText | None = Field(None, description="the new limit")

    @field_validator("quantity", "price", mode="before")
    @classmethod
    def _decimal(cls, v: object, info: ValidationInfo) -> Decimal | None:
        return None if v is None else parse_decimal(v, str(info.field_name))

    @model_validator(mode="after")
    def _something(self) -> AmendRequest:
        if self.quantity is None and self.price is None:
            raise ValueError("send a new quantity, a new price or both")
        return self


# -- responses -------------------------------------------------------------------------------


class Doc(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(Doc):
    code: str = Field(examples=["POSITION_LIMIT"])
    message: str


class ErrorResponse(Doc):
    error: ErrorDetail


class Timestamps(Doc):
    exchange_ts: int
    edge_recv_ts: int
    cc_proc_ts: int
    peer_recv_ts: int | None = None


class ChildView(Doc):
    child_id: str
    venue: str
    quantity: str
    price: str | None
    state: str = Field(description="the edge's state: PENDING_NEW, ACCEPTED, PARTIALLY_FILLED, PENDING_CANCEL, "
                       "FILLED, CANCELED, REJECTED, EXPIRED")
    filled: str
    venue_order_id: str | None
    reason: str | None


class FillView(Doc):
    fill_id: str
    venue: str
    price: str
    quantity: str
    fee: str
    fee_asset: str
    liquidity: Literal["maker", "taker"]
    exchange_ts: int
    booked_ns: int


class AlgoProgress(Doc):
    params: dict[str, Any]
    slices: list[str]
    decisions: int
    market_volume: Any
    refusals: Any
    last_refusal: Any
    ending: Any
    projected_fill: Any
    plan: list[dict[str, Any]] | None = None


class Order(Doc):
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "twap", "vwap", "iceberg"]
    quantity: str
    price: str | None
    time_in_force: Literal["gtc", "fok", "post_only"] = "gtc"
    state: ParentState
    filled: str
    avg_price: str | None
    reason: str | None
    created_ns: int
    updated_ns: int
    children: list[ChildView] | None = Field(None, description="with one order's view (not in lists)")
    fills: list[FillView] | None = Field(None, description="with one order's view")
    routing: dict[str, Any] | None = Field(None, description="the router's decision, with one order's view")
    algo: AlgoProgress | None = Field(None, description="an execution algorithm's progress")
    algo_parent: str | None = Field(None, description="a slice: its algorithm's order id")


class Position(Doc):
    symbol: str
    qty: str
    avg_cost: str
    bought: str
    sold: str
    realized_pnl: str
    fees: str
    mark: str | None
    unrealized_pnl: str


class Bbo(Doc):
    venue: str
    region: str
    remote: bool
    symbol: str
    bid: str | None
    bid_qty: str
    ask: str | None
    ask_qty: str
    bid_f: float | None
    ask_f: float | None
    bid_qty_f: float
    ask_qty_f: float
    stale: bool
    book_seq: int
    ts: Timestamps


class NbboSide(Doc):
    price: str
    qty: str
    venue: str
    price_f: float


class Nbbo(Doc):
    symbol: str
    bid: NbboSide | None
    ask: NbboSide | None
    mid: str | None
    spread_bps: str | None
    crossed: bool
    venues: list[str]
    stale_venues: list[str]
    cc_proc_ts: int


class BookLevel(Doc):
    price: str
    qty: str
    price_f: float
    venues: dict[str, str]


class Book(Doc):
    symbol: str
    depth: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    cc_proc_ts: int


class Trade(Doc):
    venue: str
    symbol: str
    trade_id: str
    price: str
    qty: str
    side: Literal["buy", "sell"]
    ts: Timestamps


class Pool(Doc):
    venue: str
    region: str
    remote: bool
    symbol: str
    pool: str
    kind: str
    fee: str
    mid: str | None
    block: int
    live: bool
    ts: Timestamps
    gas: dict[str, Any] | None = None


class Edge(Doc):
    venue: str
    region: str
    remote: bool
    address: str
    connected: bool
    latency_ms: float
    reconnects: int
    exchange_id: str | None
    last_error: str | None
    symbols: list[str]


class RemoteOrder(Doc):
    child_id: str
    origin: str
    venue: str
    state: str


class Peer(Doc):
    region: str
    endpoint: str
    connected: bool
    outbound: bool
    inbound: bool
    rtt_ms: float | None
    reconnects: int
    venues: list[str]
    items_in: int
    items_out: int
    last_error: str | None


class PairVenue(Doc):
    venue: str
    region: str
    remote: bool
    tick: str
    lot: str
    stale: bool


class Pair(Doc):
    symbol: str
    venues: list[PairVenue]


class KillSwitch(Doc):
    kill_switch: bool
    orders_cancelled: int
    algos_stopped: int


class Risk(Doc):
    kill_switch: bool
    limits: dict[str, Any]
    usage: dict[str, Any]
    denials: dict[str, int]


class Health(Doc):
    status: str
    region: str
    edges_connected: int
    edges: int


class AlgoEdge(Doc):
    edge: str
    state: str = Field(description="Running, Stopped, Failed, Pending (the edge is away), Refused, Removed")
    reason: str | None = None


class Algo(Doc):
    name: str
    symbol: str
    sha256: str
    size: int
    owner: str
    params: dict[str, str]
    source: str
    desired: Literal["Running", "Stopped"]
    halted: str | None
    state: str = Field(description="Running, Stopped, Progressing, Degraded, Refused, Deleted")
    created_ns: int
    updated_ns: int
    edges: list[AlgoEdge]


class ClientInfo(Doc):
    client_id: str
    role: Literal["trader", "admin"]
    source: str
    created_ns: int
    revoked_ns: int | None
    requests_per_s: float | None
    key_sha256_prefix: str
    key: str | None = Field(None, description="the new client's API key: in the creation's answer only")


class Tca(Doc):
    order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    type: str
    state: ParentState
    quantity: str
    filled: str
    unfilled: str
    avg_price: str | None
    notional: str
    fees: str
    fee_currency: str
    venues: dict[str, dict[str, Any]]
    arrival_mid: str | None
    arrival_bid: str | None
    arrival_ask: str | None
    decided_ns: int | None
    arrival_slippage_bps: str | None
    implementation_shortfall: dict[str, Any] | None
    interval_vwap: dict[str, Any] | None
    effective_spread: dict[str, Any]
    routed_cost: str
    single_venue: dict[str, Any] | None
    execution: dict[str, Any] | None
    schedule: dict[str, Any] | None
    expected: dict[str, Any] | None = None
    routing: list[dict[str, Any]] | None = None


# -- what each endpoint declares ---------------------------------------------------------------

REFUSALS = {
    400: "refused: malformed input (names the field) or an order the rules refuse (code says which)",
    401: "missing or unknown API key",
    403: "refused by risk (kill switch, limits, order rate), with `limit` and `value`",
    404: "no such order, symbol, edge or algo (another client's order does not exist for you)",
    409: "conflict: a reused client_order_id with a different order, no live venue or liquidity, "
         "not cancelable, an algo that belongs to another client or to Kubernetes",
    413: "the body is too large",
    415: "unsupported Content-Type",
    429: "too many requests: retry after `Retry-After` seconds",
}
#: what every request with an API key may answer
AUTHENTICATED = (400, 401, 429)


def answers(model: Any, *refusals: int, status: int = 200, described: str = "OK",
            also: dict[int, tuple[Any, str]] | None = None, public: bool = False) -> dict[str, Any]:
    """The route decorator's arguments declaring its success document and its refusals (no 422:
    invalid requests are answered 400 by the API's own handler). The route's dict is rendered as
    it is, the model only describes it. `public`: a route without an API key."""
    responses: dict[int | str, dict[str, Any]] = {status: {"model": model, "description": described}}
    for code, (doc, text) in (also or {}).items():
        responses[code] = {"model": doc, "description": text}
    for code in sorted({*(() if public else AUTHENTICATED), *refusals}):
        responses[code] = {"model": ErrorResponse, "description": REFUSALS[code]}
    return {"response_model": None, "responses": responses}
