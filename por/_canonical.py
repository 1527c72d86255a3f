"""Canonical JSON (RFC 8785 restricted to strings, integers, lists and objects).

With only those types, RFC 8785 is: keys sorted by UTF-16 code units, separators `,` `:`,
no whitespace, UTF-8 with non-ASCII left unescaped. Floats and booleans are refused rather
than guessed, because a verifier in another language must produce the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CanonicalJSONError", "canonical_json"]


class CanonicalJSONError(ValueError):
    """A value outside the canonical subset (float, bool, None, non-string key)."""


def _not_allowed(value: Any, where: str) -> str:
    return f"{where}: {type(value).__name__} is not allowed in canonical JSON"


def _check(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise CanonicalJSONError(_not_allowed(value, where))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{where}: object key {key!r} is not a string")
            _check(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
    elif not isinstance(value, str | int):
        raise CanonicalJSONError(_not_allowed(value, where))


def canonical_json(value: Any) -> bytes:
    """The exact bytes that are signed (manifests, log heads) or logged (log entries)."""
    _check(value, "$")
    return json.dumps(_ordered(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _ordered(value: Any) -> Any:
    """Rebuild objects with keys in RFC 8785 order: by UTF-16 code units, not code points."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [_ordered(v) for v in value]
    return value
