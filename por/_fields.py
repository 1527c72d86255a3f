"""Strict readers of the JSON fields shared by proofs, manifests and leaf lists.

Each reader takes a decoded JSON value and the field's path (`leaf.equity[2]`) and either
returns a typed value or raises `FieldError` saying what was expected and what was found.
The record parsers turn a `FieldError` into their own error (`ProofError` check 1,
`ManifestError`, `TreeError`), so the rules live here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from por._input import Rejected
from por.amounts import AmountError, parse_amount
from por.model import Node

__all__ = [
    "ID_BYTES_MAX",
    "MAX_ASSETS",
    "SYMBOL_BYTES_MAX",
    "FieldError",
    "describe",
    "node_json",
    "read_hash",
    "read_int",
    "read_keys",
    "read_list",
    "read_node",
    "read_object",
    "read_text",
    "read_vector",
]

MAX_ASSETS = 256  # assets per snapshot; a vector has exactly this many amounts at most
ID_BYTES_MAX = 0xFFFF  # snapshot and account ids are u16-length-prefixed in the tag
SYMBOL_BYTES_MAX = 64  # an asset symbol, in UTF-8 bytes

_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)


class FieldError(ValueError):
    """One field of a JSON record is missing, of the wrong type, or out of range."""


def describe(value: Any) -> str:
    """A short, safe description of a JSON value for an error message."""
    if isinstance(value, Rejected):
        return value.why
    if isinstance(value, bool):
        return f"JSON boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, int):
        text = str(value)
        return f"JSON number {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, str):
        text = repr(value)
        return f"string {text if len(text) <= 70 else text[:67] + '...'}"
    if isinstance(value, list):
        return f"array of {len(value)}"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def read_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(f"{where}: expected an object, got {describe(value)}")
    return value


def read_keys(
    obj: Mapping[str, Any],
    where: str,
    required: frozenset[str],
    optional: frozenset[str] = frozenset(),
    extra_allowed: bool = False,
) -> None:
    """Every required key is present and (unless `extra_allowed`) no unknown key is."""
    missing = sorted(required - obj.keys())
    if missing:
        raise FieldError(f"{where}: missing field {missing[0]!r}")
    if not extra_allowed:
        unknown = sorted(obj.keys() - required - optional)
        if unknown:
            shown = unknown[0] if len(unknown[0]) <= 40 else unknown[0][:37] + "..."
            raise FieldError(f"{where}: unexpected field {shown!r}")


def read_list(value: Any, where: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list):
        raise FieldError(f"{where}: expected an array, got {describe(value)}")
    if not low <= len(value) <= high:
        raise FieldError(f"{where}: expected {low}..{high} entries, got {len(value)}")
    return value


def read_int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"{where}: expected an integer, got {describe(value)}")
    if not low <= value <= high:
        raise FieldError(f"{where}: expected an integer in {low}..{high}, got {value}")
    return value


def read_text(value: Any, where: str, max_bytes: int = ID_BYTES_MAX) -> str:
    """A non-empty string that is valid UTF-8 text (no lone surrogates) of bounded size."""
    if not isinstance(value, str):
        raise FieldError(f"{where}: expected a string, got {describe(value)}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise FieldError(f"{where}: expected UTF-8 text, got a lone surrogate") from None
    if not 1 <= size <= max_bytes:
        raise FieldError(f"{where}: expected 1..{max_bytes} bytes of UTF-8, got {size}")
    return value


def read_hash(value: Any, where: str) -> bytes:
    """32 bytes written as exactly 64 lowercase hex digits."""
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise FieldError(f"{where}: expected 64 lowercase hex digits, got {describe(value)}")
    return bytes.fromhex(value)


def read_vector(value: Any, where: str, length: int) -> tuple[int, ...]:
    """Exactly `length` canonical amount strings (one per asset)."""
    if not isinstance(value, list):
        raise FieldError(f"{where}: expected an array of {length} amounts, got {describe(value)}")
    if len(value) != length:
        raise FieldError(f"{where}: expected {length} amounts (one per asset), got {len(value)}")
    try:
        return tuple(parse_amount(item, f"{where}[{i}]") for i, item in enumerate(value))
    except AmountError as exc:
        raise FieldError(str(exc)) from None


_NODE_KEYS = frozenset({"hash", "equity", "debt"})


def read_node(value: Any, where: str, assets: int) -> Node:
    """A `{"hash", "equity", "debt"}` object: a path entry or a root."""
    obj = read_object(value, where)
    read_keys(obj, where, _NODE_KEYS)
    return Node(
        hash=read_hash(obj["hash"], f"{where}.hash"),
        equity=read_vector(obj["equity"], f"{where}.equity", assets),
        debt=read_vector(obj["debt"], f"{where}.debt", assets),
    )


def node_json(node: Node) -> dict[str, Any]:
    """The JSON object of a node, in the spec's key order."""
    return {
        "hash": node.hash.hex(),
        "equity": [str(v) for v in node.equity],
        "debt": [str(v) for v in node.debt],
    }
