"""Exact conversion between venue decimal strings and integer multiples of a step.

A price "65000.01" on a 0.01 tick is 6500001 ticks; a quantity "0.50000000" on a 0.00001
lot is 50000 lots. Integers compare and add exactly and fast; strings come back out in
canonical form. No floats anywhere.
"""

from __future__ import annotations

from decimal import Decimal


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
