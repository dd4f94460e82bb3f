"""Numbers and symbols as the client API takes them, parsed strictly at its edge.

A quantity or a price is a plain decimal string ("0.5", "65000.01"): no sign, exponent,
spaces, NaN or non-ASCII digits, at most `MAX_CHARS` long, at most `MAX_INTEGER_DIGITS` before
the point and `MAX_FRACTION_DIGITS` after it once trailing zeros are dropped. What comes out is
canonical ("000.50" -> 0.5), so the ledger stores the value, never the padding it was sent with,
and every later computation stays well inside the decimal context's 28 digits.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_CHARS = 40
MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 12
MAX_SYMBOL_PART = 16

_PLAIN = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?", re.ASCII)
_SYMBOL = re.compile(r"(?P<base>[A-Za-z0-9]+)[/_-](?P<quote>[A-Za-z0-9]+)", re.ASCII)


class BadInput(ValueError):
    """A refused value: `code` is the API's error code, the message names the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_decimal(value: object, field: str) -> Decimal:
    """A positive quantity or price, bounded and canonical; `BadInput` names what is wrong."""
    if not isinstance(value, str):
        raise BadInput("INVALID_REQUEST", f"{field}: must be a decimal string like \"0.5\", got {_show(value)}")
    if len(value) > MAX_CHARS:
        raise BadInput("INVALID_REQUEST", f"{field}: at most {MAX_CHARS} characters, got {len(value)}")
    m = _PLAIN.fullmatch(value)
    if m is None:
        raise BadInput("INVALID_REQUEST", f"{field}: must be a plain decimal string like \"0.5\", got {value!r}")
    whole, frac = m["whole"].lstrip("0"), (m["frac"] or "").rstrip("0")
    code = "NON_POSITIVE_PRICE" if field == "price" else "NON_POSITIVE_QUANTITY"
    if m["sign"] == "-" or not (whole or frac):
        raise BadInput(code, f"{field}: must be positive, got {value!r}")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise BadInput("INVALID_REQUEST", f"{field}: at most {MAX_INTEGER_DIGITS} digits before the point, "
                       f"got {len(whole)}")
    if len(frac) > MAX_FRACTION_DIGITS:
        raise BadInput("PRECISION", f"{field}: at most {MAX_FRACTION_DIGITS} digits after the point, got {len(frac)}")
    return Decimal(f"{whole or '0'}.{frac}" if frac else whole)


def parse_symbol(value: object, field: str = "symbol") -> str:
    """`BTC/USDT`, `BTC-USDT` or `btc_usdt` -> ccxt's unified `BTC/USDT`; `BadInput` otherwise."""
    if not isinstance(value, str):
        raise BadInput("INVALID_SYMBOL", f"{field}: must be a string like \"BTC/USDT\", got {_show(value)}")
    m = _SYMBOL.fullmatch(value)
    if m is None or max(len(m["base"]), len(m["quote"])) > MAX_SYMBOL_PART:
        raise BadInput("INVALID_SYMBOL", f"{field}: must look like BTC/USDT (letters and digits, at most "
                       f"{MAX_SYMBOL_PART} each side), got {_show(value)}")
    return f"{m['base'].upper()}/{m['quote'].upper()}"


def _show(value: object) -> str:
    """The offending value in a message, cut short (a hostile one may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
