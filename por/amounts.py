"""Amounts as the spec writes them: canonical decimal strings of integers in [0, 2^128).

Exactly one spelling per value ("0", "1500"; no sign, no leading zeros, no spaces, ASCII
digits only), so a proof cannot smuggle a second encoding past a verifier in another
language. Human units ("559.52670379 BTC") are for display and for typed input only.
"""

from __future__ import annotations

import re
from typing import Any

from por._hashing import AMOUNT_LIMIT
from por.errors import InputError

__all__ = [
    "AMOUNT_DIGITS_MAX",
    "DECIMALS_MAX",
    "AmountError",
    "check_amount",
    "format_amount",
    "format_units",
    "parse_amount",
    "parse_units",
]

AMOUNT_DIGITS_MAX = len(str(AMOUNT_LIMIT - 1))  # 39: the longest canonical amount string
DECIMALS_MAX = 255  # an asset's decimals fit in a uint8, as in ERC-20

_CANONICAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_UNITS = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)


class AmountError(InputError):
    """An amount that is not a canonical decimal string of an integer in [0, 2^128)."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_amount(value: Any, where: str = "amount") -> int:
    """The integer a canonical amount string denotes; anything else raises `AmountError`.

    JSON numbers, signs, leading zeros, whitespace, non-ASCII digits and values >= 2^128 are
    all refused, with `where` naming the offending field.
    """
    if not isinstance(value, str):
        kind = "JSON number" if isinstance(value, int | float) else type(value).__name__
        if isinstance(value, bool):
            kind = "JSON boolean"
        elif value is None:
            kind = "null"
        raise AmountError(f"{where}: expected a decimal string, got {kind} {_show(value)}")
    if _CANONICAL.fullmatch(value) is None:
        if value.startswith("-"):
            reason = "negative"
        elif len(value) > 1 and value.startswith("0") and value.isascii() and value.isdigit():
            reason = "leading zero"
        else:
            reason = "not a canonical decimal"
        raise AmountError(
            f"{where}: expected a canonical decimal string in [0, 2^128), got {_show(value)}"
            f" ({reason})"
        )
    if len(value) > AMOUNT_DIGITS_MAX or int(value) >= AMOUNT_LIMIT:
        raise AmountError(f"{where}: expected an amount below 2^128, got {_show(value)}")
    return int(value)


def check_amount(value: Any, where: str = "amount") -> int:
    """An `int` amount given by code (not JSON): must be a real int in [0, 2^128)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(f"{where}: expected an integer amount, got {type(value).__name__}")
    if value < 0:
        raise AmountError(f"{where}: expected a non-negative amount, got {value}")
    if value >= AMOUNT_LIMIT:
        raise AmountError(f"{where}: expected an amount below 2^128, got {value}")
    return value


def format_amount(value: int) -> str:
    """The canonical string of an amount (the inverse of `parse_amount`)."""
    return str(check_amount(value))


def format_units(value: int, decimals: int) -> str:
    """An amount in human units: 55952670379 with 8 decimals is "559.52670379".

    Exact (integer arithmetic); trailing fractional zeros are dropped, so 1 BTC is "1".
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise AmountError(f"decimals: expected an integer, got {type(decimals).__name__}")
    if not 0 <= decimals <= DECIMALS_MAX:
        raise AmountError(f"decimals: expected 0..{DECIMALS_MAX}, got {decimals}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(f"amount: expected an integer, got {type(value).__name__}")
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}." + str(frac).rjust(decimals, "0").rstrip("0")


def parse_units(text: str, decimals: int, where: str = "amount") -> int:
    """The smallest-unit integer of a human amount ("1.5" ETH -> 1500000000000000000).

    Refuses more fractional digits than the asset has: no silent rounding of money.
    """
    if not isinstance(text, str):
        raise AmountError(f"{where}: expected a decimal string, got {type(text).__name__}")
    match = _UNITS.fullmatch(text)
    if match is None:
        raise AmountError(f"{where}: expected a decimal like 12.5, got {_show(text)}")
    whole, frac = match.group(1), match.group(2) or ""
    frac = frac.rstrip("0")
    if len(frac) > decimals:
        raise AmountError(
            f"{where}: expected at most {decimals} decimal places, got {len(frac)} in {_show(text)}"
        )
    if len(whole) > AMOUNT_DIGITS_MAX:
        raise AmountError(f"{where}: expected an amount below 2^128, got {_show(text)}")
    value = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if frac else 0)
    return check_amount(value, where)
