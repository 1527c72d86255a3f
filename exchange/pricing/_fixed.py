"""Fixed-point fractions of the pricing module (multipliers, bands, tolerances).

A fraction is an int at `FRACTION` = 10^9 scale ("0.99" -> 990_000_000), written in the
command log as a decimal string with at most 9 fraction digits. Prices themselves are ints
in quote smallest units per one whole base unit (the matching engine's price unit).
"""

from __future__ import annotations

import re
from typing import Any

from exchange.errors import InvalidCommandError

__all__ = ["FRACTION", "ceil_mul", "floor_mul", "fraction", "format_fraction"]

FRACTION = 10**9
_DECIMAL_RE = re.compile(r"(0|[1-9][0-9]{0,8})(\.([0-9]{1,9}))?")


def fraction(raw: dict[str, Any], name: str, default: int) -> int:
    """Field reader: optional decimal string ("0.99") -> int at FRACTION scale."""
    if name not in raw:
        return default
    value = raw[name]
    m = _DECIMAL_RE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise InvalidCommandError(
            f'field {name!r} must be a decimal string like "0.99" (at most 9 fraction '
            f"digits), got {value!r}"
        )
    return int(m.group(1)) * FRACTION + int((m.group(3) or "").ljust(9, "0"))


def format_fraction(value: int) -> str:
    whole, frac = divmod(value, FRACTION)
    text = str(frac).rjust(9, "0").rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def floor_mul(price: int, frac: int) -> int:
    """floor(price * frac / FRACTION)."""
    return price * frac // FRACTION


def ceil_mul(price: int, frac: int) -> int:
    """ceil(price * frac / FRACTION)."""
    return -(-price * frac // FRACTION)
