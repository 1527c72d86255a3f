"""Canonical JSON (RFC 8785 restricted to strings, integers, lists and objects).

With only those types, RFC 8785 is: keys sorted by UTF-16 code units, separators `,` `:`,
no whitespace, UTF-8 with non-ASCII left unescaped. Floats and booleans are refused rather
than guessed, because a verifier in another language must produce the same bytes; so are
strings and keys holding a lone surrogate (`"\\ud800"` parses in Python but has no UTF-8).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CanonicalJSONError", "canonical_json"]


class CanonicalJSONError(ValueError):
    """A value outside the canonical subset (float, bool, None, non-string key)."""


def _not_allowed(value: Any, where: str) -> str:
    return f"{where}: {type(value).__name__} is not allowed in canonical JSON"


def _is_text(value: str) -> bool:
    """Whether `value` is Unicode text UTF-8 can carry: no lone surrogate (a JSON `\\ud800`)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise CanonicalJSONError(_not_allowed(value, where))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{where}: object key {key!r} is not a string")
            if not _is_text(key):
                raise CanonicalJSONError(f"{where}: object key {key!r} holds a lone surrogate")
            _check(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
    elif isinstance(value, str):
        if not _is_text(value):
            raise CanonicalJSONError(f"{where}: string holds a lone surrogate (not UTF-8 text)")
    elif not isinstance(value, int):
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
