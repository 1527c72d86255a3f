"""The fast leaf-list rebuild against the plain reference (`por.verify.fold_leaves`)."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.audit import _leaflist
from por.audit._leaflist import fold_leaf_file
from por.errors import TreeError
from por.leaves import dump_leaves
from por.model import AccountInput
from por.tree import build_tree
from por.verify import fold_leaves

SYMBOLS = ("BTC", "ETH", "SOL")


def leaf_file(count: int, seed: int, big: bool = False) -> tuple[bytes, object]:
    rng = random.Random(seed)
    top = 10**30 if big else 10**12
    accounts = []
    for i in range(count):
        equity, debt = [0, 0, 0], [0, 0, 0]
        for k in range(3):
            side = rng.randrange(3)
            if side == 1:
                equity[k] = rng.randrange(1, top)
            elif side == 2:
                debt[k] = rng.randrange(1, top)
        accounts.append(AccountInput(f"a{i}", rng.randbytes(32), tuple(equity), tuple(debt)))
    tree = build_tree("2026-11-24T16:00:00Z", list(SYMBOLS), accounts, filler_secret=b"s" * 32)
    out = io.BytesIO()
    dump_leaves(tree.leaves, out)
    return out.getvalue(), tree


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_leaflist, "CHUNK_LEAVES", 8)
    monkeypatch.setattr(_leaflist, "_READ_BYTES", 1000)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 70), seed=st.integers(0, 10**6), big=st.booleans())
def test_the_fast_rebuild_equals_the_reference_fold(count: int, seed: int, big: bool) -> None:
    data, tree = leaf_file(count, seed, big)
    fast = fold_leaf_file(io.BytesIO(data), SYMBOLS)
    assert fast == fold_leaves(tree.leaves, SYMBOLS)  # type: ignore[attr-defined]
    assert fast.root == tree.root  # type: ignore[attr-defined]


def test_chunks_and_blocks_smaller_than_the_tree_give_the_same_root(small_chunks: None) -> None:
    data, tree = leaf_file(100, 3, big=True)
    assert fold_leaf_file(io.BytesIO(data), SYMBOLS).root == tree.root  # type: ignore[attr-defined]


def test_lines_in_another_json_layout_take_the_strict_path_and_agree() -> None:
    data, tree = leaf_file(20, 4)
    spaced = data.replace(b'":', b'": ').replace(b",", b", ")
    assert fold_leaf_file(io.BytesIO(spaced), SYMBOLS).root == tree.root  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'["0"', b'["00"', "canonical"),
        (b'["0"', b'["-0"', "canonical"),
        (b'["0"', b'["+0"', "canonical"),
        (b'["0"', b'["0x0"', "canonical"),
        (b'["0"', b"[0", "JSON number"),
        (b'["0"', b'["340282366920938463463374607431768211456"', r"below 2\^128"),
        (b'"tag":"', b'"tag":"A', "hex"),
    ],
)
def test_a_non_canonical_amount_or_tag_is_rejected_naming_the_line(
    old: bytes, new: bytes, message: str
) -> None:
    data, _ = leaf_file(10, 5)
    bad = data.replace(old, new, 1)
    assert bad != data
    with pytest.raises(TreeError, match=message):
        fold_leaf_file(io.BytesIO(bad), SYMBOLS)


def test_duplicate_unsorted_and_counted_wrong_lists_are_rejected(small_chunks: None) -> None:
    data, _ = leaf_file(30, 6)
    lines = data.splitlines(keepends=True)
    with pytest.raises(TreeError, match="duplicate tag|repeats"):
        fold_leaf_file(io.BytesIO(b"".join(lines[:9] + [lines[8]] + lines[10:])), SYMBOLS)
    with pytest.raises(TreeError, match="ascending|out of order|below"):
        fold_leaf_file(io.BytesIO(b"".join([lines[1], lines[0], *lines[2:]])), SYMBOLS)
    with pytest.raises(TreeError, match="power of two"):
        fold_leaf_file(io.BytesIO(b"".join(lines[:-1])), SYMBOLS)
    with pytest.raises(TreeError, match="power of two"):
        fold_leaf_file(io.BytesIO(b""), SYMBOLS)


def test_a_leaf_with_equity_and_debt_in_one_asset_is_rejected() -> None:
    data, _ = leaf_file(4, 7)
    line = b'{"debt":["5","0","0"],"equity":["5","0","0"],"tag":"' + b"0" * 64 + b'"}\n'
    lines = data.splitlines(keepends=True)
    with pytest.raises(TreeError, match="both equity and debt"):
        fold_leaf_file(io.BytesIO(line + b"".join(lines[1:])), SYMBOLS)
