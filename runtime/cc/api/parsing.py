"""What the client API parses strictly at its edge: numbers (`parse_decimal`, shared with the
execution algorithms' parameters: runtime/book/numbers.py) and symbols, one parser each for
every request model. Refusals are `BadInput`, whose code and message (naming the field) the API
answers with a 400."""

from __future__ import annotations

import re

from seqmesh.runtime.book.numbers import (
    MAX_CHARS,
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    BadInput,
    parse_decimal,
    shown,
)

__all__ = ["MAX_CHARS", "MAX_FRACTION_DIGITS", "MAX_INTEGER_DIGITS", "MAX_SYMBOL_PART", "BadInput", "parse_decimal",
           "parse_symbol"]

MAX_SYMBOL_PART = 16
_SYMBOL = re.compile(r"(?P<base>[A-Za-z0-9]+)[/_-](?P<quote>[A-Za-z0-9]+)", re.ASCII)


def parse_symbol(value: object, field: str = "symbol") -> str:
    """`BTC/USDT`, `BTC-USDT` or `btc_usdt` -> ccxt's unified `BTC/USDT`; `BadInput` otherwise."""
    if not isinstance(value, str):
        raise BadInput("INVALID_SYMBOL", f"{field}: must be a string like \"BTC/USDT\", got {shown(value)}")
    m = _SYMBOL.fullmatch(value)
    if m is None or max(len(m["base"]), len(m["quote"])) > MAX_SYMBOL_PART:
        raise BadInput("INVALID_SYMBOL", f"{field}: must look like BTC/USDT (letters and digits, at most "
                       f"{MAX_SYMBOL_PART} each side), got {shown(value)}")
    return f"{m['base'].upper()}/{m['quote'].upper()}"
