"""Rebuild a published leaf list (`liabilities.jsonl`) fast: numpy + the tree builder's levels.

The publisher writes every line in canonical JSON, `{"debt":[..],"equity":[..],"tag":".."}`.
A chunk of lines in exactly that layout is validated by one regular expression (canonical
decimal strings of at most 39 digits, 64 lowercase hex tags) and cut apart by position;
a chunk that deviates (other key order, spaces: still valid JSON) goes through the strict
per-line parser of `por.leaves`, which also names the bad line when there is one. Each
chunk of 2^16 leaves is folded to its subtree node with `por.builder`'s vectorised level
hashing, and the subtree nodes are folded like `por.verify.fold_leaves` folds leaves.
`por.verify.fold_leaves` is the plain reference; tests compare the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import numpy as np
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT
from por._sumtree import SumOverflowError, parent_node
from por.builder._errors import TreeInputError
from por.builder._level import build_levels, hash_rows, leaf_preimages
from por.builder._limbs import ints_to_limbs, limbs_to_ints
from por.builder._order import check_sorted_unique
from por.errors import TreeError
from por.leaves import parse_leaf
from por.model import MAX_LEAVES, Node
from por.verify import TreeSummary

__all__ = ["CHUNK_LEAVES", "fold_leaf_file"]

CHUNK_LEAVES = 1 << 16


_READ_BYTES = 1 << 24
# every byte a canonical line can hold; anything else sends the block to the strict parser
_ALPHABET = b'0123456789abcdefgqituy{}[]:,"\n'


def _column(tokens: list[bytes]) -> NDArray[np.uint64] | None:
    """Decimal byte strings -> (n, 2) u128 limbs [hi, lo]; None if one is not an integer."""
    out = np.zeros((len(tokens), 2), dtype=np.uint64)
    try:
        out[:, 1] = np.fromiter(map(int, tokens), dtype=np.uint64, count=len(tokens))
        return out
    except OverflowError:  # some value >= 2^64 (or negative): exact Python ints below
        pass
    except ValueError:
        return None
    try:
        values = list(map(int, tokens))
    except ValueError:
        return None
    if min(values) < 0 or max(values) >= AMOUNT_LIMIT:
        return None
    return ints_to_limbs(values)


class _Chunk:
    __slots__ = ("amounts", "first", "tags")

    def __init__(self, first: int, tags: NDArray[np.uint8], amounts: NDArray[np.uint64]) -> None:
        self.first = first  # 1-based line number of its first leaf
        self.tags = tags  # (n, 32)
        self.amounts = amounts  # (n, 2A, 2): equity then debt, as the leaf preimage


def _layout(assets: int) -> tuple[int, dict[int, bytes], list[int], list[int], int]:
    """Token positions when canonical lines are split at '"': period, fixed tokens by
    offset, equity offsets, debt offsets, tag offset. Offset 0 is the text between lines."""
    fixed = {1: b"debt", 2: b":["}
    for j in range(assets - 1):
        fixed[4 + 2 * j] = b","
    fixed.update({2 * assets + 2: b"],", 2 * assets + 3: b"equity", 2 * assets + 4: b":["})
    for j in range(assets - 1):
        fixed[2 * assets + 6 + 2 * j] = b","
    fixed.update({4 * assets + 4: b"],", 4 * assets + 5: b"tag", 4 * assets + 6: b":"})
    equity = [2 * assets + 5 + 2 * j for j in range(assets)]
    debt = [3 + 2 * j for j in range(assets)]
    return 4 * assets + 8, fixed, equity, debt, 4 * assets + 7


def _fast(data: bytes, n: int, assets: int, first: int) -> _Chunk | None:
    """`n` newline-terminated lines in exactly the canonical layout, else None."""
    period, fixed, equity, debt, tag_at = _layout(assets)
    if data.translate(None, _ALPHABET):
        return None
    tokens = data.split(b'"')
    if len(tokens) != n * period + 1 or tokens[0] != b"{" or tokens[-1] != b"}\n":
        return None
    if tokens[period:-1:period].count(b"}\n{") != n - 1:
        return None
    for offset, want in fixed.items():
        if tokens[offset::period].count(want) != n:
            return None
    tags = b"".join(tokens[tag_at::period])
    if len(tags) != 64 * n or tags.translate(None, b"0123456789abcdef"):
        return None
    tag_array = np.frombuffer(bytes.fromhex(tags.decode()), np.uint8).reshape(n, 32)
    tags_with_zero = int(np.count_nonzero(tag_array[:, 0] < 16))
    if data.count(b'"0') != data.count(b'"0"') + tags_with_zero:
        return None  # an amount with a leading zero
    amounts = np.empty((n, 2 * assets, 2), dtype=np.uint64)
    for j, offset in enumerate((*equity, *debt)):
        column = _column(tokens[offset::period])
        if column is None:
            return None
        amounts[:, j] = column
    return _Chunk(first, tag_array, amounts)


def _slow(lines: list[bytes], assets: int, first: int, what: str) -> _Chunk:
    from por._input import load_json

    tags = bytearray()
    flat: list[int] = []
    for offset, line in enumerate(lines):
        where = f"{what} line {first + offset}"
        body = line[:-1] if line.endswith(b"\r") else line
        if not body.strip():
            raise TreeError(f"{where}: empty line")
        leaf = parse_leaf(load_json(body, where), where, assets)
        tags += leaf.tag
        flat.extend(leaf.equity)
        flat.extend(leaf.debt)
    n = len(lines)
    return _Chunk(
        first,
        np.frombuffer(bytes(tags), dtype=np.uint8).reshape(n, 32),
        ints_to_limbs(flat).reshape(n, 2 * assets, 2),
    )


def _blocks(stream: IO[bytes], what: str, line_limit: int) -> Iterator[bytes]:
    """Runs of complete newline-terminated lines, read in large blocks."""
    rest = b""
    while True:
        block = stream.read(_READ_BYTES)
        if not block:
            break
        data = rest + block
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if len(rest) > line_limit:
            raise TreeError(f"{what}: a line is longer than {line_limit} bytes")
        if cut:
            yield data[:cut]
    if rest:
        yield rest + b"\n"


def _parsed(stream: IO[bytes], assets: int, what: str, line_limit: int) -> Iterator[_Chunk]:
    first = 1
    for data in _blocks(stream, what, line_limit):
        n = data.count(b"\n")
        chunk = _fast(data, n, assets, first)
        if chunk is None:
            lines = data.split(b"\n")[:-1]
            if max(map(len, lines)) > line_limit:
                raise TreeError(f"{what}: a line is longer than {line_limit} bytes")
            chunk = _slow(lines, assets, first, what)
        yield chunk
        first += n


def _chunks(stream: IO[bytes], assets: int, what: str, line_limit: int) -> Iterator[_Chunk]:
    """The leaves in chunks of CHUNK_LEAVES (the last may be smaller)."""
    tags: list[NDArray[np.uint8]] = []
    amounts: list[NDArray[np.uint64]] = []
    held = 0
    first = 1
    for chunk in _parsed(stream, assets, what, line_limit):
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


def _node(tags: NDArray[np.uint8], amounts: NDArray[np.uint64], assets: int) -> Node:
    hashes = hash_rows(leaf_preimages(tags, amounts))
    root_hash, sums = build_levels(hashes, amounts, lambda _level, _pairs: None)
    values = limbs_to_ints(sums)
    return Node(bytes(root_hash), tuple(values[:assets]), tuple(values[assets:]))


def fold_leaf_file(
    stream: IO[bytes],
    symbols: tuple[str, ...],
    what: str = "liabilities.jsonl",
    line_limit: int = 1 << 20,
) -> TreeSummary:
    """The leaf list's leaf count, height and root; `TreeError` naming what is wrong.

    Same checks as `por.verify.fold_leaves`: strictly ascending tags, canonical amounts
    below 2^128, sums below 2^128, a power of two >= 2 leaves (at most 2^32); plus netting:
    no asset has both equity and debt in one leaf.
    """
    assets = len(symbols)
    stack: list[tuple[int, Node]] = []
    previous: bytes | None = None
    count = 0
    for chunk in _chunks(stream, assets, what, line_limit):
        n = chunk.tags.shape[0]
        count += n
        if count > MAX_LEAVES:
            raise TreeError(f"{what}: expected at most {MAX_LEAVES} leaves, got more")
        try:
            check_sorted_unique(chunk.tags)
        except TreeInputError as exc:
            raise TreeError(f"{what} (lines {chunk.first}..): {exc}") from None
        first_tag = chunk.tags[0].tobytes()
        if previous is not None and first_tag <= previous:
            raise TreeError(
                f"{what} line {chunk.first}: tags must be strictly ascending, {first_tag.hex()}"
                f" {'repeats' if first_tag == previous else 'is below'} the previous tag"
            )
        previous = chunk.tags[-1].tobytes()
        nonzero = np.asarray(chunk.amounts.any(axis=2), dtype=bool)
        both = nonzero[:, :assets] & nonzero[:, assets:]
        if both.any():
            row, asset = (int(v) for v in np.argwhere(both)[0])
            raise TreeError(
                f"{what} line {chunk.first + row}: {symbols[asset]} has both equity and debt"
                " (a leaf holds the net: at most one of them is non-zero)"
            )
        if n & (n - 1):
            raise TreeError(f"{what}: expected a power of two >= 2 leaves, got {count} or more")
        try:
            node = _node(chunk.tags, chunk.amounts, assets)
        except TreeInputError as exc:
            raise TreeError(f"{what} (lines {chunk.first}..): {exc}") from None
        level = n.bit_length() - 1
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            try:
                node = parent_node(left, node)
            except SumOverflowError as exc:
                raise TreeError(f"{exc.side} sum of {symbols[exc.asset]} reaches 2^128") from None
            level += 1
        if stack and stack[-1][0] < level:
            raise TreeError(f"{what}: expected a power of two >= 2 leaves, got {count}")
        stack.append((level, node))
    if count < 2 or len(stack) != 1:
        raise TreeError(f"{what}: expected a power of two >= 2 leaves, got {count}")
    level, root = stack[0]
    return TreeSummary(leaf_count=count, height=level, root=root)
