"""Bytes from disk to JSON values, with bounded memory and one reading of the text.

The edge between files and the pure verifier. Sizes are capped by reading at most
`limit + 1` bytes, so a gigabyte "proof" costs 16 MiB, not a gigabyte. Values that JSON
allows but a proof never contains (fractions, integers of hundreds of digits, objects with
a key twice, absurd nesting) are replaced by `Rejected` markers; the typed parsers then
refuse them with a message, so "valid JSON, not a valid proof" stays distinct from
"not JSON at all".
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import IO, Any

from por.errors import InputError, NotJSONError

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_LINE_BYTES",
    "Rejected",
    "iter_json_lines",
    "load_json",
    "load_json_text",
    "read_bounded",
]

MAX_JSON_BYTES = 16 * 1024 * 1024  # a proof is a few KiB; a manifest too
MAX_LINE_BYTES = 1024 * 1024  # one leaf of a published leaf list (JSON Lines)
_INT_DIGITS_MAX = 40  # longer JSON integers are never meaningful here
MAX_JSON_DEPTH = 64  # a proof nests 4 deep, a manifest 5; deeper is never a record of ours

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def _too_deep(text: str) -> bool:
    """Nesting deeper than MAX_JSON_DEPTH, found before parsing.

    Checked explicitly rather than by catching RecursionError: the interpreter's limit is
    process state (test runners and libraries raise it), so the outcome must not depend on it.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    brackets = _STRING.sub("", text).encode("utf-8", "surrogatepass")
    steps = brackets.translate(None, delete=bytes(set(range(256)) - set(b"[{]}")))
    if not steps:
        return False
    return max(accumulate(b - 1 for b in steps.translate(_DEPTH_STEP))) > MAX_JSON_DEPTH


class Rejected:
    """Stands for a JSON value no `por` record accepts; `why` describes what it was."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return self.why


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any] | Rejected:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            return Rejected(f"object with duplicate key {key!r}")
        result[key] = value
    return result


def _integer(text: str) -> int | Rejected:
    if len(text) > _INT_DIGITS_MAX:
        return Rejected(f"JSON integer of {len(text)} digits")
    return int(text)


def _fraction(text: str) -> Rejected:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return Rejected(f"JSON number {shown}")


def _constant(text: str) -> Any:
    raise NotJSONError(f"not JSON: {text} is not a JSON value")


def load_json(raw: bytes, what: str = "input") -> Any:
    """Parse UTF-8 JSON text; raises `NotJSONError` naming `what` when it is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJSONError(f"{what}: not JSON: invalid UTF-8 at byte {exc.start}") from None
    if _too_deep(text):
        return Rejected("JSON nested too deeply")
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_integer,
            parse_float=_fraction,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        raise NotJSONError(
            f"{what}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except NotJSONError as exc:
        raise NotJSONError(f"{what}: {exc}") from None
    except RecursionError:
        return Rejected("JSON nested too deeply")


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) in `value` holds a lone surrogate (no UTF-8 form:
    a `\\ud800` escape); the one walker every JSON reader of `por` uses."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_json_text(raw: bytes, what: str = "input") -> Any:
    """`load_json`, and `NotJSONError` when a string or key holds a lone surrogate.

    JSON lets `"\\ud800"` through, but such a string is not Unicode text: it has no UTF-8
    form, so it can be neither signed (canonical JSON) nor printed. The spec calls it
    invalid input (exit 2). Valid UTF-8 bytes hold no surrogate, so only `\\u` escapes
    can make one: files without any are not walked.
    """
    value = load_json(raw, what)
    if b"\\u" in raw and has_lone_surrogate(value):
        raise NotJSONError(f"{what}: not UTF-8 text: a string holds a lone surrogate")
    return value


def read_bounded(path: str | os.PathLike[str], limit: int = MAX_JSON_BYTES) -> bytes:
    """The file's bytes, reading at most `limit + 1`; `InputError` if larger or unreadable."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{os.fspath(path)}: cannot read: {reason}") from None
    if len(data) > limit:
        raise InputError(f"{os.fspath(path)}: too large: expected at most {limit} bytes, got more")
    return data


def iter_json_lines(
    stream: IO[bytes], what: str = "input", limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each line of a JSON Lines stream, one line in memory at a time.

    A final newline is optional; an empty line elsewhere, a line over `limit` bytes or a
    line that is not JSON raises (`InputError` / `NotJSONError`) naming the line.
    """
    number = 0
    while True:
        try:
            line = stream.readline(limit + 2)
        except OSError as exc:
            raise InputError(f"{what}: cannot read: {exc.strerror or exc}") from None
        if not line:
            return
        number += 1
        body = line[:-1] if line.endswith(b"\n") else line
        if body.endswith(b"\r"):
            body = body[:-1]
        if len(body) > limit:
            raise InputError(
                f"{what}: line {number} too long: expected at most {limit} bytes, got more"
            )
        if not body.strip():
            raise NotJSONError(f"{what}: not JSON: line {number} is empty")
        yield number, load_json(body, f"{what} line {number}")
