"""Exact conversion between venue decimal strings and integer multiples of a step.

A price "65000.01" on a 0.01 tick is 6500001 ticks; a quantity "0.50000000" on a 0.00001
lot is 50000 lots. Integers compare and add exactly and fast; strings come back out in
canonical form. No floats anywhere.
"""

from __future__ import annotations

import re
from decimal import Decimal

#: bounds of a quantity or price a client sends: well inside the decimal context's 28 digits
MAX_CHARS = 40
MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 12
_PLAIN = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?", re.ASCII)


class BadInput(ValueError):
    """A refused value: `code` is the API's error code, the message names the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_decimal(value: object, field: str, positive: bool = True) -> Decimal:
    """A client's quantity or price, strictly: a plain decimal string ("0.5", "65000.01"; no sign,
    exponent, spaces, NaN or non-ASCII digits), at most `MAX_CHARS` long, at most
    `MAX_INTEGER_DIGITS` before the point and `MAX_FRACTION_DIGITS` after it once trailing zeros
    are dropped, positive (or zero, if not `positive`). The value comes out canonical ("000.50"
    -> 0.5): what is stored is the value, never the padding it was sent with. `BadInput` names
    what is wrong."""
    if not isinstance(value, str):
        raise BadInput("INVALID_REQUEST", f"{field}: must be a decimal string like \"0.5\", got {shown(value)}")
    if len(value) > MAX_CHARS:
        raise BadInput("INVALID_REQUEST", f"{field}: at most {MAX_CHARS} characters, got {len(value)}")
    m = _PLAIN.fullmatch(value)
    if m is None:
        raise BadInput("INVALID_REQUEST", f"{field}: must be a plain decimal string like \"0.5\", got {value!r}")
    whole, frac = m["whole"].lstrip("0"), (m["frac"] or "").rstrip("0")
    code = "NON_POSITIVE_PRICE" if field == "price" else "NON_POSITIVE_QUANTITY"
    if m["sign"] == "-":
        raise BadInput(code, f"{field}: must be {'positive' if positive else 'zero or more'}, got {value!r}")
    if positive and not (whole or frac):
        raise BadInput(code, f"{field}: must be positive, got {value!r}")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise BadInput("INVALID_REQUEST", f"{field}: at most {MAX_INTEGER_DIGITS} digits before the point, "
                       f"got {len(whole)}")
    if len(frac) > MAX_FRACTION_DIGITS:
        raise BadInput("PRECISION", f"{field}: at most {MAX_FRACTION_DIGITS} digits after the point, got {len(frac)}")
    return Decimal(f"{whole or '0'}.{frac}" if frac else whole or "0")


def shown(value: object) -> str:
    """The offending value in a message, cut short (a hostile one may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


class OffGrid(ValueError):
    """A value that is not a whole number of steps (or not a plain decimal at all)."""


class DecimalScale:
    """Integer multiples of one decimal step, e.g. `DecimalScale("0.01")`."""

    __slots__ = ("decimals", "step", "step_units", "unit")

    def __init__(self, step: str) -> None:
        d = Decimal(step)
        if not d.is_finite() or d <= 0:
            raise ValueError(f"step must be a positive decimal, got {step!r}")
        exponent = d.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        self.decimals = max(0, -exponent)
        self.unit = Decimal(1).scaleb(-self.decimals)
        self.step = d
        self.step_units = int(d.scaleb(self.decimals))  # the step in units of 10^-decimals

    def to_int(self, text: str) -> int:
        """Whole steps in `text`; raises OffGrid for anything off the grid or malformed."""
        whole, _, frac = text.partition(".")
        if len(frac) > self.decimals:
            extra = frac[self.decimals:]
            if extra.strip("0"):
                raise OffGrid(f"{text!r} has more precision than the step {self.step}")
            frac = frac[: self.decimals]
        try:
            units = int(whole + frac.ljust(self.decimals, "0")) if (whole or frac) else int("x")
        except ValueError:
            raise OffGrid(f"{text!r} is not a plain decimal number") from None
        if whole.startswith(("+", "-")) or (frac and not frac.isdigit()):
            raise OffGrid(f"{text!r} is not a plain non-negative decimal number")
        steps, rest = divmod(units, self.step_units)
        if rest:
            raise OffGrid(f"{text!r} is not a multiple of the step {self.step}")
        return steps

    def from_decimal(self, value: Decimal) -> int:
        steps, rest = divmod(value, self.step)
        if rest:
            raise OffGrid(f"{value} is not a multiple of the step {self.step}")
        return int(steps)

    def to_decimal(self, steps: int) -> Decimal:
        return (steps * self.step_units) * self.unit

    def to_str(self, steps: int) -> str:
        """Canonical decimal string: no exponent, no trailing zeros ("65000.01", "0.5", "3")."""
        units = steps * self.step_units
        if not self.decimals:
            return str(units)
        sign = "-" if units < 0 else ""
        digits = str(abs(units)).rjust(self.decimals + 1, "0")
        whole, frac = digits[: -self.decimals], digits[-self.decimals:].rstrip("0")
        return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"
