"""Rebuild a published leaf list (`liabilities.jsonl`) fast, as strictly as the reference.

The publisher writes every line in canonical JSON, `{"debt":[..],"equity":[..],"tag":".."}`.
A block of lines is split at '"' and every token is checked at its position, field by
field: the fixed tokens (keys, brackets, commas, line breaks) exactly; each amount is
decimal digits without a leading zero and below 2^128; each tag is exactly 64 lowercase
hex digits. A block that is not exactly that (another key order,
spaces, escapes: maybe still valid JSON) is read line by line by the reference parser
(`por.leaves.parse_leaf` on `por._input.load_json`, as `por verify tree` reads), which
accepts or rejects it with the reference's own message. So the fast path can only ever
accept what the reference accepts, with the same values; tests compare the two on
malformed lists.

Leaves are folded by the auditor's own fold (`por.audit._fold`), in chunks of 2^16
leaves whose nodes are combined by the spec's parent rule (`por._sumtree`). Nothing here
imports the exchange's builder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT
from por._input import MAX_LINE_BYTES, load_json
from por._sumtree import SumOverflowError, parent_node
from por.audit._fold import SumOverflow, first_not_ascending, subtree_node
from por.errors import InputError, NotJSONError, TreeError
from por.leaves import parse_leaf
from por.model import MAX_LEAVES, Node
from por.verify import TreeSummary

__all__ = ["CHUNK_LEAVES", "fold_leaf_file"]

CHUNK_LEAVES = 1 << 16
_READ_BYTES = 1 << 24
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdef"
_MASK64 = (1 << 64) - 1


class _Chunk:
    __slots__ = ("amounts", "first", "tags")

    def __init__(self, first: int, tags: NDArray[np.uint8], amounts: NDArray[np.uint64]) -> None:
        self.first = first  # 1-based line number of its first leaf
        self.tags = tags  # (n, 32)
        self.amounts = amounts  # (n, 2A, 2): equity then debt, as the leaf preimage


def _layout(assets: int) -> tuple[int, dict[int, bytes], list[int], int]:
    """Token positions when canonical lines are split at '"': period, fixed tokens by
    offset, amount offsets (equity then debt), tag offset. Offset 0 is between lines."""
    fixed = {1: b"debt", 2: b":["}
    for j in range(assets - 1):
        fixed[4 + 2 * j] = b","
    fixed.update({2 * assets + 2: b"],", 2 * assets + 3: b"equity", 2 * assets + 4: b":["})
    for j in range(assets - 1):
        fixed[2 * assets + 6 + 2 * j] = b","
    fixed.update({4 * assets + 4: b"],", 4 * assets + 5: b"tag", 4 * assets + 6: b":"})
    equity = [2 * assets + 5 + 2 * j for j in range(assets)]
    debt = [3 + 2 * j for j in range(assets)]
    return 4 * assets + 8, fixed, [*equity, *debt], 4 * assets + 7


def _canonical_amounts(tokens: list[bytes]) -> bool:
    """Every token is decimal digits, at least one, and starts with "0" only if it is "0"
    (each token checked on its own: they are joined by a separator none of them holds,
    and the separators are counted). Too many digits fail the range check after."""
    joined = b"\n" + b"\n".join(tokens) + b"\n"
    return (
        not joined.translate(None, _DIGITS + b"\n")
        and joined.count(b"\n") == len(tokens) + 1
        and b"\n\n" not in joined
        and joined.count(b"\n0") == tokens.count(b"0")
    )


def _tags(tokens: list[bytes]) -> NDArray[np.uint8] | None:
    """(n, 32) tag bytes when every token is exactly 64 lowercase hex digits, else None
    (joined by newlines, which must sit exactly after every 64th digit and nowhere else)."""
    n = len(tokens)
    joined = b"\n".join(tokens)
    if len(joined) != 65 * n - 1 or joined.count(b"\n") != n - 1:
        return None
    if joined[64::65] != b"\n" * (n - 1) or joined.translate(None, _HEX + b"\n"):
        return None
    return np.frombuffer(bytes.fromhex(joined.decode("ascii")), np.uint8).reshape(n, 32)


def _limbs(tokens: list[bytes]) -> NDArray[np.uint64] | None:
    """Canonical decimal tokens -> (n, 2) u128 limbs [hi, lo]; None if one is >= 2^128."""
    out = np.zeros((len(tokens), 2), dtype=np.uint64)
    try:
        out[:, 1] = np.fromiter(map(int, tokens), dtype=np.uint64, count=len(tokens))
        return out
    except OverflowError:  # some value >= 2^64: exact Python ints
        pass
    except ValueError:  # more digits than int() takes (sys.get_int_max_str_digits)
        return None
    try:
        values = list(map(int, tokens))
    except ValueError:
        return None
    if max(values) >= AMOUNT_LIMIT:
        return None
    out[:, 0] = [v >> 64 for v in values]
    out[:, 1] = [v & _MASK64 for v in values]
    return out


def _longest_line(assets: int) -> int:
    """Bytes of the longest canonical line (39-digit amounts), newline excluded."""
    return len(b'{"debt":[],"equity":[],"tag":""}') + 64 + 2 * assets * 41 + 2 * (assets - 1)


def _any_line_over(data: bytes, limit: int) -> bool:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    return bool(np.diff(ends, prepend=-1).max() - 1 > limit)


def _fast(data: bytes, n: int, assets: int, first: int, limit: int) -> _Chunk | None:
    """`n` newline-terminated lines each exactly in the canonical layout, else None."""
    period, fixed, amount_at, tag_at = _layout(assets)
    if _longest_line(assets) > limit and _any_line_over(data, limit):
        return None  # the reference names the long line
    tokens = data.split(b'"')
    if len(tokens) != n * period + 1 or tokens[0] != b"{" or tokens[-1] != b"}\n":
        return None
    if tokens[period:-1:period].count(b"}\n{") != n - 1:
        return None
    for offset, want in fixed.items():
        if tokens[offset::period].count(want) != n:
            return None
    tags = _tags(tokens[tag_at::period])
    if tags is None:
        return None
    amounts = np.empty((n, 2 * assets, 2), dtype=np.uint64)
    for j, offset in enumerate(amount_at):
        column = tokens[offset::period]
        if not _canonical_amounts(column):
            return None
        limbs = _limbs(column)
        if limbs is None:
            return None
        amounts[:, j] = limbs
    return _Chunk(first, tags, amounts)


def _reference(lines: list[bytes], assets: int, first: int, what: str, limit: int) -> _Chunk:
    """The lines read as `por.leaves.read_leaves` reads them (same rules, same errors)."""
    tags = bytearray()
    flat: list[int] = []
    for offset, line in enumerate(lines):
        number = first + offset
        body = line[:-1] if line.endswith(b"\r") else line
        if len(body) > limit:
            raise InputError(
                f"{what}: line {number} too long: expected at most {limit} bytes, got more"
            )
        if not body.strip():
            raise NotJSONError(f"{what}: not JSON: line {number} is empty")
        where = f"{what} line {number}"
        leaf = parse_leaf(load_json(body, where), where, assets)
        tags += leaf.tag
        flat.extend(leaf.equity)
        flat.extend(leaf.debt)
    n = len(lines)
    amounts = np.empty((len(flat), 2), dtype=np.uint64)
    amounts[:, 0] = [v >> 64 for v in flat]
    amounts[:, 1] = [v & _MASK64 for v in flat]
    return _Chunk(
        first,
        np.frombuffer(bytes(tags), dtype=np.uint8).reshape(n, 32),
        amounts.reshape(n, 2 * assets, 2),
    )


def _blocks(stream: IO[bytes], what: str, limit: int) -> Iterator[tuple[int, bytes]]:
    """(first line number, run of complete newline-terminated lines), read in large blocks."""
    rest = b""
    number = 1
    while True:
        try:
            block = stream.read(_READ_BYTES)
        except OSError as exc:
            raise InputError(f"{what}: cannot read: {exc.strerror or exc}") from None
        if not block:
            break
        data = rest + block
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield number, data[:cut]
            number += data.count(b"\n", 0, cut)
        if len(rest) > limit + 1:
            raise InputError(
                f"{what}: line {number} too long: expected at most {limit} bytes, got more"
            )
    if rest:
        yield number, rest + b"\n"


def _parsed(stream: IO[bytes], assets: int, what: str, limit: int) -> Iterator[_Chunk]:
    for first, data in _blocks(stream, what, limit):
        n = data.count(b"\n")
        chunk = _fast(data, n, assets, first, limit)
        if chunk is None:
            chunk = _reference(data.split(b"\n")[:-1], assets, first, what, limit)
        yield chunk


def _chunks(stream: IO[bytes], assets: int, what: str, limit: int) -> Iterator[_Chunk]:
    """The leaves in chunks of CHUNK_LEAVES (the last may be smaller)."""
    tags: list[NDArray[np.uint8]] = []
    amounts: list[NDArray[np.uint64]] = []
    held = 0
    first = 1
    for chunk in _parsed(stream, assets, what, limit):
        tags.append(chunk.tags)
        amounts.append(chunk.amounts)
        held += chunk.tags.shape[0]
        while held >= CHUNK_LEAVES:
            all_tags, all_amounts = np.concatenate(tags), np.concatenate(amounts)
            yield _Chunk(first, all_tags[:CHUNK_LEAVES], all_amounts[:CHUNK_LEAVES])
            first += CHUNK_LEAVES
            tags, amounts = [all_tags[CHUNK_LEAVES:]], [all_amounts[CHUNK_LEAVES:]]
            held -= CHUNK_LEAVES
    if held:
        yield _Chunk(first, np.concatenate(tags), np.concatenate(amounts))


def _order_error(what: str, line: int, tag: bytes, previous: bytes) -> TreeError:
    relation = "repeats" if tag == previous else "is below"
    return TreeError(
        f"{what} line {line}: tags must be strictly ascending, {tag.hex()} {relation}"
        f" the previous tag {previous.hex()}"
    )


def _count_error(count: int) -> TreeError:
    return TreeError(f"leaf list: expected a power of two >= 2 leaves, got {count}")


def fold_leaf_file(
    stream: IO[bytes],
    symbols: tuple[str, ...],
    what: str = "liabilities.jsonl",
    line_limit: int = MAX_LINE_BYTES,
) -> TreeSummary:
    """The leaf list's leaf count, height and root, by the rules of `por.verify.fold_leaves`
    (the reference) on what `por.leaves.read_leaves` reads: every line a leaf, canonical
    amounts below 2^128, 64-hex tags strictly ascending, sums below 2^128, a power of two
    >= 2 leaves (at most 2^32). `TreeError` (or the reference reader's `InputError` /
    `NotJSONError`) naming the line. A leaf may hold equity and debt in one asset (the
    spec: verifiers must not reject it), and one account may have several leaves.
    """
    assets = len(symbols)
    stack: list[tuple[int, Node]] = []
    previous: bytes | None = None
    count = 0
    for chunk in _chunks(stream, assets, what, line_limit):
        n = chunk.tags.shape[0]
        count += n
        if count > MAX_LEAVES:
            raise TreeError(f"leaf list: expected at most {MAX_LEAVES} leaves, got more")
        first_tag = chunk.tags[0].tobytes()
        if previous is not None and first_tag <= previous:
            raise _order_error(what, chunk.first, first_tag, previous)
        bad = first_not_ascending(chunk.tags)
        if bad is not None:
            tag, before = chunk.tags[bad].tobytes(), chunk.tags[bad - 1].tobytes()
            raise _order_error(what, chunk.first + bad, tag, before)
        previous = chunk.tags[-1].tobytes()
        if n & (n - 1):  # only the last chunk can be short: the count is not a power of 2
            raise _count_error(count)
        try:
            node = subtree_node(chunk.tags, chunk.amounts)
        except SumOverflow as exc:
            raise TreeError(
                f"{exc.side} sum of {symbols[exc.asset]} reaches 2^128"
                f" (leaves from line {chunk.first})"
            ) from None
        level = n.bit_length() - 1
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            try:
                node = parent_node(left, node)
            except SumOverflowError as exc:
                raise TreeError(f"{exc.side} sum of {symbols[exc.asset]} reaches 2^128") from None
            level += 1
        if stack and stack[-1][0] < level:
            raise _count_error(count)
        stack.append((level, node))
    if count < 2 or len(stack) != 1:
        raise _count_error(count)
    level, root = stack[0]
    return TreeSummary(leaf_count=count, height=level, root=root)
