"""por.snapshot.leaf_lines: the numpy leaf-list lines equal, byte for byte, the canonical
JSON of each leaf formatted plainly (as `por.snapshot.run.leaf_list_line` does), for every
amount up to 2^128 - 1, across blocks that fit 64 bits and blocks that do not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from por._hashing import AMOUNT_LIMIT
from por.snapshot.leaf_lines import AMOUNT_BYTES, leaf_lines

Leaf = tuple[bytes, list[int]]  # tag, the 2n amounts: n equities then n debts

BOUNDARIES = sorted(
    {0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1, 2**64, 2**64 + 1}
    | {2**96 - 1, 2**96, 2**127, AMOUNT_LIMIT - 1}
    | {10**k + d for k in range(39) for d in (-1, 0, 1)}  # 10^38 < 2^128 < 10^39
)


def _reference(leaves: list[Leaf], n: int) -> bytes:
    """The lines formatted leaf by leaf, as `leaf_list_line` formats one."""
    return b"".join(
        (
            json.dumps(
                {
                    "debt": [str(v) for v in amounts[n:]],
                    "equity": [str(v) for v in amounts[:n]],
                    "tag": tag.hex(),
                },
                separators=(",", ":"),
                sort_keys=True,
            )
            + "\n"
        ).encode()
        for tag, amounts in leaves
    )


def _columns(leaves: list[Leaf], n: int) -> tuple[bytes, NDArray[np.uint8]]:
    """The tags back to back, and the amounts as a record's bytes after its hash."""
    tags = b"".join(tag for tag, _ in leaves)
    blob = b"".join(v.to_bytes(AMOUNT_BYTES, "big") for _, amounts in leaves for v in amounts)
    amounts = np.frombuffer(blob, dtype=np.uint8).reshape(len(leaves), 2 * n * AMOUNT_BYTES)
    return tags, amounts


def _fast(leaves: list[Leaf], n: int, block: int) -> bytes:
    tags, amounts = _columns(leaves, n)
    return b"".join(leaf_lines(tags, amounts, n, block))


amount = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(0, 2**64 - 1),
    st.integers(0, AMOUNT_LIMIT - 1),
    st.integers(0, 10**9),
)


@st.composite
def leaf_sets(draw: st.DrawFn) -> tuple[list[Leaf], int]:
    n = draw(st.integers(1, 4))
    leaf = st.tuples(
        st.binary(min_size=32, max_size=32), st.lists(amount, min_size=2 * n, max_size=2 * n)
    )
    return draw(st.lists(leaf, max_size=40)), n


@settings(max_examples=300, deadline=None)
@given(leaf_sets(), st.integers(1, 9))
def test_the_lines_equal_the_plain_json_of_each_leaf(
    data: tuple[list[Leaf], int], block: int
) -> None:
    leaves, n = data
    assert _fast(leaves, n, block) == _reference(leaves, n)


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 13])
def test_every_boundary_amount_in_every_column_is_written_exactly(block: int) -> None:
    """Each boundary in each of the 8 columns, with zeros and u64-only blocks between: a
    block of 3 or 7 mixes widths, a block of 1 has a single width per column."""
    n = 4
    leaves: list[Leaf] = []
    for i, value in enumerate(BOUNDARIES):
        for column in range(2 * n):
            amounts = [0] * (2 * n)
            amounts[column] = value
            amounts[(column + 1) % (2 * n)] = BOUNDARIES[(i * 7 + column) % len(BOUNDARIES)]
            leaves.append((bytes([i % 256, column]) * 16, amounts))
    assert _fast(leaves, n, block) == _reference(leaves, n)


def test_a_column_of_zeros_is_written_as_zeros() -> None:
    leaves = [(bytes([k]) * 32, [0, 0, 0, 0]) for k in range(5)]
    expected = b"".join(
        b'{"debt":["0","0"],"equity":["0","0"],"tag":"' + bytes([k]).hex().encode() * 32 + b'"}\n'
        for k in range(5)
    )
    assert _fast(leaves, 2, 2) == expected == _reference(leaves, 2)


def test_no_leaves_give_no_lines() -> None:
    assert list(leaf_lines(b"", np.zeros((0, 128), dtype=np.uint8), 4)) == []


def test_amounts_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected 2 rows of 64 amount bytes"):
        list(leaf_lines(bytes(64), np.zeros((2, 128), dtype=np.uint8), 2))
    with pytest.raises(ValueError, match="whole tags"):
        list(leaf_lines(bytes(65), np.zeros((2, 64), dtype=np.uint8), 2))
