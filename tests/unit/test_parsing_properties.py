"""Property tests of what parses untrusted text: the API's number and symbol parsers, the
exchange dialects' number encoding read back by ccxt and the edge, and the WASM upload check."""

from __future__ import annotations

import re
from decimal import Decimal

import ccxt
import pytest
import wasmtime
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from seqmesh.runtime.book.numbers import DecimalScale
from seqmesh.runtime.cc.api.parsing import (
    MAX_CHARS,
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    BadInput,
    parse_decimal,
    parse_symbol,
)
from seqmesh.runtime.cc.api.schemas import OrderRequest
from seqmesh.runtime.cc.domain import OrderType as ParentType
from seqmesh.runtime.cc.errors import OrderError
from seqmesh.runtime.cc.execalgos.params import IcebergParams
from seqmesh.runtime.cc.execalgos.params import parse as parse_params
from seqmesh.runtime.edge.gateway import exact
from seqmesh.runtime.edge.stream import _num as edge_num
from seqmesh.runtime.venues.sim import binance_format, okx_format
from seqmesh.runtime.venues.sim.instruments import CATALOGUE, Instrument
from seqmesh.runtime.venues.sim.orders import Order, OrderType, Side, Status, TimeInForce
from seqmesh.runtime.venues.sim.rest_base import plain_decimal
from seqmesh.runtime.wasm.validate import validate

from seqmesh.common.wasmfile import InvalidWasm
from seqmesh.testing.guests import pinger, trapping_at_start

DIGITS = st.text("0123456789", min_size=1, max_size=MAX_INTEGER_DIGITS)
FRACTION = st.text("0123456789", max_size=MAX_FRACTION_DIGITS)
#: what clients might send: digits, signs, points, exponents, spaces, unicode digits, anything
HOSTILE = st.one_of(st.text(max_size=60), st.text("0123456789.-+eE _٣", max_size=60),
                    st.from_regex(r"[0-9]{1,30}(\.[0-9]{0,30})?", fullmatch=True))


# -- numbers -------------------------------------------------------------------------------------


@given(whole=DIGITS, frac=FRACTION, lead=st.integers(0, 5), trail=st.integers(0, 5))
def test_a_bounded_decimal_parses_to_its_value_whatever_its_padding(whole: str, frac: str, lead: int,
                                                                     trail: int) -> None:
    value = Decimal(f"{whole}.{frac or '0'}")
    assume(value > 0)
    text = "0" * lead + whole + ("." + frac + "0" * trail if frac or trail else "")
    assume(len(text) <= MAX_CHARS)
    parsed = parse_decimal(text, "quantity")
    assert parsed == value
    # canonical: no padding kept, and what it prints parses to itself
    printed = format(parsed, "f")
    assert not printed.startswith("0") or printed.startswith("0."), printed
    assert "." not in printed or not printed.endswith("0"), printed
    assert parse_decimal(printed, "quantity") == parsed


@given(text=HOSTILE)
@example("1" * 30)
@example("0." + "0" * 38 + "1")
@example("NaN")
@example("1e5")
@example("-0")
@example("١٢")
def test_any_text_is_a_bounded_positive_decimal_or_a_refusal_naming_the_field(text: str) -> None:
    try:
        value = parse_decimal(text, "price")
    except BadInput as exc:
        assert str(exc).startswith("price:")
        assert exc.code in ("INVALID_REQUEST", "NON_POSITIVE_PRICE", "PRECISION")
        return
    assert value.is_finite() and value > 0
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    assert len(digits) + min(exponent, 0) <= MAX_INTEGER_DIGITS and -exponent <= MAX_FRACTION_DIGITS
    # every grid check later stays exact in the default decimal context
    assert value % Decimal("0.000000000001") == 0


@given(value=st.one_of(st.floats(allow_nan=True), st.integers(), st.none(), st.lists(st.integers(), max_size=2)))
def test_only_strings_are_numbers(value: object) -> None:
    with pytest.raises(BadInput, match="must be a decimal string"):
        parse_decimal(value, "quantity")


@given(display=st.one_of(HOSTILE, st.floats(), st.integers(-10**50, 10**50), st.none()))
@example("1e999999")  # was accepted, then a 500 at the scheduler's lot check (decimal context)
def test_execution_algorithm_quantities_go_through_the_same_parser(display: object) -> None:
    try:
        checked = parse_params(ParentType.ICEBERG, {"display": display})
    except OrderError as exc:
        assert exc.code == "INVALID_PARAMS" and exc.message.startswith("iceberg params: display")
        return
    assert isinstance(checked, IcebergParams)
    assert checked.display > 0 and checked.display % Decimal("0.000000000001") == 0


# -- symbols -------------------------------------------------------------------------------------

PART = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=16)


@given(base=PART, quote=PART, sep=st.sampled_from("/-_"))
def test_a_symbol_in_any_accepted_spelling_is_ccxts_unified_form(base: str, quote: str, sep: str) -> None:
    parsed = parse_symbol(f"{base}{sep}{quote}")
    assert parsed == f"{base.upper()}/{quote.upper()}"
    assert parse_symbol(parsed) == parsed


@given(text=st.one_of(st.text(max_size=80), st.text("AB/-_ ßı\n", max_size=20)))
def test_any_text_is_a_unified_symbol_or_a_refusal(text: str) -> None:
    try:
        parsed = parse_symbol(text)
    except BadInput as exc:
        assert exc.code == "INVALID_SYMBOL" and str(exc).startswith("symbol:")
        return
    assert re.fullmatch(r"[A-Z0-9]{1,16}/[A-Z0-9]{1,16}", parsed)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(quantity=HOSTILE, symbol=st.text(max_size=30))
def test_the_order_body_refuses_with_the_parsers_codes(quantity: str, symbol: str) -> None:
    """The request model runs the parsers: what it accepts is what they accept."""
    body = {"symbol": "BTC/USDT", "side": "buy", "quantity": quantity}
    try:
        expected = parse_decimal(quantity, "quantity")
    except BadInput:
        with pytest.raises(ValueError, match="quantity:"):
            OrderRequest.model_validate(body)
    else:
        assert OrderRequest.model_validate(body).quantity == expected
    try:
        unified = parse_symbol(symbol)
    except BadInput:
        with pytest.raises(ValueError, match="symbol:"):
            OrderRequest.model_validate(body | {"quantity": "1", "symbol": symbol})
    else:
        assert OrderRequest.model_validate(body | {"quantity": "1", "symbol": symbol}).symbol == unified


# -- the dialects' numbers, read back by ccxt and the edge ---------------------------------------

BINANCE, OKX = ccxt.binance(), ccxt.okx()  # their decoders only: nothing is sent
INSTRUMENTS = st.sampled_from(sorted(CATALOGUE.values(), key=lambda i: i.symbol))


@st.composite
def on_grid(draw: st.DrawFn, step: Decimal, most: int = 10**9) -> Decimal:
    return draw(st.integers(1, most)) * step


@given(data=st.data(), inst=INSTRUMENTS)
def test_binance_numbers_read_back_exactly_by_the_edge(data: st.DataObject, inst: Instrument) -> None:
    price = data.draw(on_grid(inst.tick, 10**8))
    qty = data.draw(on_grid(inst.lot, 10**7))
    ticks, lots = DecimalScale(str(inst.tick)), DecimalScale(str(inst.lot))
    for text, scale, value in ((binance_format.num(price), ticks, price), (binance_format.num(qty), lots, qty)):
        assert plain_decimal(text) == value  # the simulator reads its own dialect back
        assert scale.to_decimal(scale.to_int(text)) == value  # the edge's book reads the venue's strings
        # ccxt hands the edge floats: 15 significant digits survive, and the edge's text of them is on the grid
        assert scale.to_int(edge_num(float(text))) == scale.to_int(text)
    (level,) = okx_format.levels([(price, qty, 1)])  # OKX's book levels: [price, size, "0", orders]
    assert ticks.to_int(level[0]) * inst.tick == price and lots.to_int(level[1]) * inst.lot == qty


@given(data=st.data(), inst=INSTRUMENTS, full=st.booleans())
def test_an_order_decoded_by_ccxt_gives_the_edge_its_exact_fill(data: st.DataObject, inst: Instrument,
                                                                       full: bool) -> None:
    qty = data.draw(on_grid(inst.lot, 10**6))
    filled = data.draw(st.integers(0, int(qty / inst.lot))) * inst.lot
    price = data.draw(on_grid(inst.tick, 10**8))
    o = Order(7, "c-1", "acct", inst.symbol, Side.BUY, OrderType.LIMIT, TimeInForce.GTC, price, qty, 1_700_000_000_000,
              filled=filled, cum_quote=filled * price, status=Status.PARTIALLY_FILLED if filled else Status.NEW)
    for parsed in (BINANCE.parse_order(binance_format.order(o, inst, full=full)),
                   OKX.parse_order(okx_format.order(o, inst))):
        assert exact(parsed["filled"]) == filled and exact(parsed["amount"]) == qty
        assert exact(parsed["price"]) == price
        assert parsed["clientOrderId"] == "c-1" and parsed["id"] == "7"


# -- the WASM upload check -----------------------------------------------------------------------

#: the refusals docs/api.md lists for an upload
REASONS = ("NotWasm", "UnsupportedVersion", "TooLarge", "DoesNotCompile", "UnknownImport", "AbiViolation")


@settings(max_examples=60, deadline=None)
@given(junk=st.binary(max_size=2048))
def test_any_bytes_are_a_valid_module_or_invalid_wasm_with_a_reason(junk: bytes) -> None:
    try:
        validate(junk)
    except InvalidWasm as exc:
        assert exc.reason in REASONS, exc


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_valid_module_with_bytes_flipped_is_still_judged_cleanly(data: st.DataObject) -> None:
    module = bytearray(data.draw(st.sampled_from([pinger(), trapping_at_start()])))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(module) - 1))
        module[at] = data.draw(st.integers(0, 255))
    try:
        exports = validate(bytes(module))
    except InvalidWasm as exc:
        assert exc.reason in REASONS and exc.reason != "TooLarge", exc
    else:  # whatever passes is a module the host can compile and whose exports the ABI names
        wasmtime.Module(wasmtime.Engine(), bytes(module))
        assert "on_book" in exports
