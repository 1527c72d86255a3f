"""Structure-aware mutations of JSON documents and JSON Lines, for the fuzz bench.

Every mutator takes a seeded `random.Random` and returns new bytes (or a new value); the
inputs are never changed. The classes the adversarial review of issue 17 used are all here:
wrong types, missing and extra fields, huge integers, lone surrogates, deep nesting,
control characters, a UTF-8 BOM, duplicate keys, fractions, byte-level damage.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

__all__ = [
    "POOL",
    "dump",
    "mutant",
    "mutate_bytes",
    "mutate_text",
    "mutate_value",
]

LONE = "\ud800"
POOL: list[Any] = [
    0,
    1,
    -1,
    2**64,
    2**128,
    2**128 - 1,
    10**40,
    10**41,
    1.5,
    None,
    True,
    False,
    "",
    "0",
    "00",
    "-1",
    "+1",
    "1e3",
    " 1",
    "340282366920938463463374607431768211456",
    "340282366920938463463374607431768211455",
    "a" * 64,
    "A" * 64,
    "0" * 63,
    [],
    {},
    ["0"],
    {"hash": "0" * 64},
    "por-proof/1",
    "por-proof-set/1",
    "por-manifest/1",
    "\u00e9",
    "\n",
    "a\x00b",
    "id\x1b[31m",
    LONE,
    "x" + LONE,
    "\udc00y",
    2**53 + 1,
    255,
    256,
    38,
    39,
]


def dump(value: Any, rng: random.Random) -> bytes:
    """JSON bytes of `value`, indented or not, non-ASCII escaped or not.

    A lone surrogate cannot be written as UTF-8, so it is always written as a `\\ud800`
    escape (what an attacker's file would hold).
    """
    indent = rng.choice((None, None, 1))
    try:
        return json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=indent).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, indent=indent).encode("utf-8")


def _nested(depth: int, inner: Any) -> Any:
    value = inner
    for k in range(depth):
        value = [value] if k % 2 else {"n": value}
    return value


def mutate_value(rng: random.Random, value: Any) -> Any:
    """A random structural change somewhere inside a JSON value (a new object)."""
    doc = copy.deepcopy(value)
    holder: Any = None
    key: Any = None
    node = doc
    for _ in range(rng.randrange(1, 7)):
        if isinstance(node, dict) and node:
            holder, key = node, rng.choice(list(node))
        elif isinstance(node, list) and node:
            holder, key = node, rng.randrange(len(node))
        else:
            break
        node = holder[key]
    if holder is None:
        return rng.choice(POOL)
    op = rng.randrange(11)
    current = holder[key]
    if op == 0:
        holder[key] = rng.choice(POOL)
    elif op == 1 and isinstance(current, str) and current.isdigit():
        holder[key] = str(max(0, int(current) + rng.choice((-1, 1, 2**64, 2**128))))
    elif op == 2 and isinstance(current, str) and current:
        i = rng.randrange(len(current))
        holder[key] = current[:i] + rng.choice("0123456789abcdefA\u00e9") + current[i + 1 :]
    elif op == 3 and isinstance(holder, dict):
        del holder[key]
    elif op == 4 and isinstance(holder, dict):
        name = rng.choice(
            ["extra", "account_id", "nonce", "signature", "q", "leaf", "log", "x" + LONE]
        )
        holder[name] = rng.choice(POOL)
    elif op == 5 and isinstance(holder, list) and len(holder) > 1:
        j = rng.randrange(len(holder))
        holder[key], holder[j] = holder[j], holder[key]
    elif op == 6 and isinstance(current, int) and not isinstance(current, bool):
        holder[key] = current + rng.choice((-1, 1, 1 << 20, 10**41, -(10**41)))
    elif op == 7:
        holder[key] = _nested(rng.choice((3, 63, 64, 65, 200)), current)
    elif op == 8 and isinstance(current, str):
        i = rng.randrange(len(current) + 1)
        holder[key] = current[:i] + rng.choice((LONE, "\x00", "\n", "\x1b", "\u2028")) + current[i:]
    elif op == 9 and isinstance(holder, list):
        holder.append(copy.deepcopy(rng.choice(holder)) if holder else rng.choice(POOL))
    elif op == 10 and isinstance(holder, list) and holder:
        holder.pop(rng.randrange(len(holder)))
    else:
        holder[key] = rng.choice(POOL)
    return doc


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level damage: flip, insert, delete, truncate."""
    if not data:
        return bytes([rng.randrange(256)])
    i = rng.randrange(len(data))
    op = rng.randrange(4)
    if op == 0:
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if op == 1:
        return data[:i] + bytes([rng.randrange(256)]) + data[i:]
    if op == 2:
        return data[:i] + data[i + 1 :]
    return data[:i]


_DIGITS = b"0123456789"


def mutate_text(rng: random.Random, data: bytes) -> bytes:
    """Text-level changes a JSON value cannot express: BOM, duplicate keys, huge numbers."""
    op = rng.randrange(6)
    if op == 0:
        return b"\xef\xbb\xbf" + data
    if op == 1:
        # a key repeated: the first `"name":` gets a twin in front of it
        at = data.find(b'":')
        start = data.rfind(b'"', 0, at) if at > 0 else -1
        if start >= 0:
            pair = data[start : at + 2] + b'"0",'
            return data[:start] + pair + data[start:]
    if op == 2:
        # an integer literal made long (41, 400 or 5000 digits)
        spots = [i for i in range(1, len(data)) if data[i] in _DIGITS and data[i - 1] in b": ["]
        if spots:
            i = rng.choice(spots)
            return data[:i] + b"9" * rng.choice((40, 41, 400, 5000)) + data[i:]
    if op == 3:
        return data.replace(b'"', b'"\\ud800', 1) if rng.random() < 0.5 else data + b"\n"
    if op == 4:
        # a number written as a fraction or an exponent
        spots = [i for i in range(1, len(data)) if data[i] in _DIGITS and data[i - 1] in b": ["]
        if spots:
            i = rng.choice(spots)
            return (
                data[:i] + b"1.0" + data[i:]
                if rng.random() < 0.5
                else data[:i] + b"1e2," + data[i:]
            )
    return data.replace(b"{", b" { ", 1) + b" \t\r\n"


def mutant(rng: random.Random, value: Any, raw: bytes) -> bytes:
    """One mutant of a JSON document: byte damage, a text change or a structural change."""
    roll = rng.random()
    if roll < 0.2:
        return mutate_bytes(rng, raw)
    if roll < 0.35:
        return mutate_text(rng, raw)
    return dump(mutate_value(rng, value), rng)
