"""Field readers for command parsers: each returns a typed value or raises InvalidCommandError.

A parser uses them to turn one JSON object into the params its handler receives. They check
shape only (types, formats, bounds of representation); rules of the ledger (amount > 0,
known asset, enough balance) are the handler's business and end in a recorded reject.
"""

from __future__ import annotations

import re
from typing import Any

from exchange.errors import InvalidCommandError
from exchange.model import parse_time

__all__ = [
    "MAX_ID_LENGTH",
    "amount",
    "integer",
    "optional_string",
    "string",
    "strings",
    "symbol",
    "time",
]

MAX_ID_LENGTH = 128
_AMOUNT_RE = re.compile(r"-?(0|[1-9][0-9]{0,39})")
_AMOUNT_MATCH = _AMOUNT_RE.fullmatch
_SYMBOL_RE = re.compile(r"[A-Z0-9]{1,16}")


def _get(raw: dict[str, Any], name: str) -> Any:
    try:
        return raw[name]
    except KeyError:
        raise InvalidCommandError(f"missing field {name!r}") from None


def amount(raw: dict[str, Any], name: str = "amount") -> int:
    """A signed decimal string in the smallest unit ("150000000", "-5"); never a JSON number.

    Sign and size are left to the handler (amount_must_be_positive is a reject, not a typo).
    """
    value = raw.get(name)
    if type(value) is str and _AMOUNT_MATCH(value):
        return int(value)
    value = _get(raw, name)
    if not isinstance(value, str):
        kind = "number" if isinstance(value, int | float) else type(value).__name__
        raise InvalidCommandError(
            f"field {name!r} must be a decimal string in the smallest unit, got a JSON {kind}"
        )
    if not _AMOUNT_RE.fullmatch(value):
        raise InvalidCommandError(
            f"field {name!r} must be an integer decimal string (no fraction, exponent, "
            f"plus sign or leading zeros), got {value!r}"
        )
    return int(value)


def string(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    value = _get(raw, name)
    if not isinstance(value, str) or not value:
        raise InvalidCommandError(f"field {name!r} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidCommandError(f"field {name!r} is longer than {MAX_ID_LENGTH} characters")
    return value


def strings(raw: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """Several `string` fields at once (one call on the hot path)."""
    out = []
    for name in names:
        value = raw.get(name)
        if type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH:
            value = string(raw, name)
        out.append(value)
    return out


def optional_string(raw: dict[str, Any], name: str) -> str | None:
    return string(raw, name) if name in raw else None


def symbol(raw: dict[str, Any], name: str) -> str:
    value = string(raw, name)
    if not _SYMBOL_RE.fullmatch(value):
        raise InvalidCommandError(f"field {name!r} must be 1-16 of A-Z 0-9, got {value!r}")
    return value


def integer(raw: dict[str, Any], name: str, low: int, high: int) -> int:
    value = _get(raw, name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidCommandError(f"field {name!r} must be an integer in [{low}, {high}]")
    return value


def time(raw: dict[str, Any], name: str) -> int:
    value = _get(raw, name)
    if not isinstance(value, str):
        raise InvalidCommandError(f"field {name!r} must be a string like 2026-11-24T16:00:00Z")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise InvalidCommandError(f"field {name!r}: {exc}") from None
