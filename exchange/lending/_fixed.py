"""Fixed-point scales and exact decimal parsing for rates, weights and indexes.

Scales (all plain ints, no floats anywhere):
- `FRACTION` = 10^9: parameters that are fractions (utilisation, rates per year, weights,
  margin fractions, fee shares): "0.02" -> 20_000_000; "0.00002494" -> 24_940.
- `WAD` = 10^18: computed rates and utilisation (more precision than the parameters).
- `RAY` = 10^27: interest indexes (Aave's ray): an index of RAY means 1.0.
"""

from __future__ import annotations

import re
from typing import Any

from exchange.errors import InvalidCommandError

__all__ = [
    "FRACTION",
    "FRACTION_DIGITS",
    "HOURS_PER_YEAR",
    "RAY",
    "WAD",
    "ceil_div",
    "ceil_sqrt",
    "format_fraction",
    "fraction",
    "parse_fraction",
]

FRACTION_DIGITS = 9
FRACTION: int = 10**FRACTION_DIGITS
WAD = 10**18
RAY = 10**27
HOURS_PER_YEAR = 8_760  # 365 days: an annual rate r accrues r / 8760 per hour

_DECIMAL_RE = re.compile(r"(0|[1-9][0-9]{0,20})(\.([0-9]{1,9}))?")


def parse_fraction(text: str) -> int:
    """Exact decimal string -> int at FRACTION scale: "0.0135" -> 13_500_000.

    Raises ValueError for anything else (signs, exponents, more than 9 fraction digits).
    """
    m = _DECIMAL_RE.fullmatch(text)
    if not m:
        raise ValueError(
            f"expected a non-negative decimal with at most {FRACTION_DIGITS} fraction digits, "
            f"got {text!r}"
        )
    frac = (m.group(3) or "").ljust(FRACTION_DIGITS, "0")
    return int(m.group(1)) * FRACTION + int(frac)


def fraction(raw: dict[str, Any], name: str, default: int | None = None) -> int:
    """Field reader: a decimal string ("0.02") as an int at FRACTION scale."""
    if name not in raw:
        if default is None:
            raise InvalidCommandError(f"missing field {name!r}")
        return default
    value = raw[name]
    if not isinstance(value, str):
        raise InvalidCommandError(f'field {name!r} must be a decimal string like "0.02"')
    try:
        return parse_fraction(value)
    except ValueError as exc:
        raise InvalidCommandError(f"field {name!r}: {exc}") from None


def format_fraction(value: int, scale: int = FRACTION) -> str:
    """Exact decimal rendering of a scaled int (for views): 20_000_000 -> "0.02"."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), scale)
    digits = len(str(scale)) - 1
    text = str(frac).rjust(digits, "0").rstrip("0")
    return f"{sign}{whole}.{text}" if text else f"{sign}{whole}"


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0."""
    return -(-a // b)


def ceil_sqrt(n: int) -> int:
    """ceil(sqrt(n)) for n >= 0 (math.isqrt is the floor)."""
    from math import isqrt

    if n <= 0:
        return 0
    r = isqrt(n)
    return r if r * r == n else r + 1
