"""What any command line may hold, checked before a parser reads a field of it.

Every string of a command (keys too) can end up in the journal, in an account id or on an
operator's terminal. A lone surrogate (`"\\ud800"`) cannot be encoded, so the batch's flush
failed and lost the lines before it; NUL is stored by SQLite and refused by PostgreSQL, so
the two stores would disagree; C0/C1 control characters (ESC, CSI, newline) rewrite what a
terminal shows. Nesting is bounded before parsing: a 100k-deep line is an invalid line,
not a RecursionError whose depth depends on the caller's stack.

Each failure is an `InvalidCommandError` whose text starts with a code naming the rule.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from exchange.errors import InvalidCommandError

__all__ = ["MAX_NESTING", "check_nesting", "check_strings"]

MAX_NESTING = 32
"""Deepest nesting of arrays and objects in a command (the deepest command nests 3)."""

_SUSPECT = re.compile(r"[\\\x7f-\x9f]").search
"""An escape (the only way JSON text holds C0 controls or surrogates) or a raw DEL/C1:
only a line with one of these needs its strings looked at (most lines have none)."""

_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]").search
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STEP = str.maketrans({"[": "\x02", "{": "\x02", "]": "\x00", "}": "\x00"})
_BRACKETS = re.compile(r"[^\[\]{}]")


def check_nesting(text: str) -> None:
    """Refuse JSON text nested deeper than MAX_NESTING, without parsing it."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return
    steps = _BRACKETS.sub("", _STRING.sub("", text)).translate(_STEP)
    if steps and max(accumulate(ord(c) - 1 for c in steps)) > MAX_NESTING:
        raise InvalidCommandError(
            f"json_nesting_must_be_at_most_{MAX_NESTING}: arrays and objects nest deeper"
        )


def check_strings(raw: Any, text: str) -> None:
    """Refuse a command holding a lone surrogate or a control character in any string.

    `text` is the command's JSON text (the line, or its `json.dumps`): when it has no
    escape and no raw DEL/C1 character, no string can hold one, and nothing is walked.
    """
    if not _SUSPECT(text):
        return
    stack: list[tuple[Any, str]] = [(raw, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            _check(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                field = where or f"field {key!r}"
                _check(key, f"a key in {where}" if where else f"key {key!r}")
                stack.append((item, field))
        elif isinstance(value, list):
            stack.extend((item, where) for item in value)


def _check(value: str, where: str) -> None:
    bad = _BAD(value)
    if bad is None:
        return
    char = bad.group()
    code = (
        "string_must_not_contain_lone_surrogates"
        if "\ud800" <= char <= "\udfff"
        else "string_must_not_contain_control_characters"
    )
    raise InvalidCommandError(f"{code}: {where} has U+{ord(char):04X} at index {bad.start()}")
