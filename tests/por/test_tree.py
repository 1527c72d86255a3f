"""The reference builder: tags, padding, fillers, sorting, sums, proofs and bad input."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import overload

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por._hashing import AMOUNT_LIMIT, tag_hash
from por.builder.reference import ReferenceTree, build_tree
from por.builder.vectorgen import random_accounts
from por.errors import InputError
from por.leaves import Leaf
from por.model import MAX_LEAVES, AccountInput, filler_tag
from por.verify import fold_leaves, verify_inclusion

SID = "2026-11-24T16:00:00Z"
ASSETS = ("BTC", "ETH")
SECRET = b"s" * 32


def account(
    name: str, equity: tuple[int, ...] = (1, 0), debt: tuple[int, ...] = (0, 2)
) -> AccountInput:
    return AccountInput(name, name.encode().ljust(32, b"."), equity, debt)


def build(accounts: Sequence[AccountInput], **kwargs: int) -> ReferenceTree:
    return build_tree(SID, ASSETS, accounts, filler_secret=SECRET, **kwargs)


def test_a_single_account_gets_one_filler_and_height_one() -> None:
    tree = build([account("alice")])
    assert (tree.leaf_count, tree.height) == (2, 1)
    filler = filler_tag(SECRET, SID, 0)
    assert {leaf.tag for leaf in tree.leaves} == {
        tag_hash(SID, b"alice".ljust(32, b"."), "alice"),
        filler,
    }
    assert [leaf for leaf in tree.leaves if leaf.tag == filler] == [Leaf(filler, (0, 0), (0, 0))]


def test_leaves_are_sorted_by_tag_and_padded_to_a_power_of_two() -> None:
    tree = build([account(f"a{i}") for i in range(5)])
    tags = [leaf.tag for leaf in tree.leaves]
    assert tags == sorted(tags) and len(set(tags)) == 8
    assert tree.height == 3


def test_min_leaves_pads_further_to_hide_the_account_count() -> None:
    tree = build([account("alice"), account("bob")], min_leaves=100)
    assert tree.leaf_count == 128
    assert sum(1 for leaf in tree.leaves if leaf.equity == (0, 0) and leaf.debt == (0, 0)) == 126


def test_a_rebuild_gives_the_same_tree_and_another_secret_other_fillers() -> None:
    accounts = [account(f"a{i}") for i in range(3)]
    assert build(accounts).root == build(accounts).root
    other = build_tree(SID, ASSETS, accounts, filler_secret=b"t" * 32)
    assert other.root.hash != build(accounts).root.hash
    assert other.root.equity == build(accounts).root.equity


def test_root_sums_are_the_sums_of_the_accounts() -> None:
    accounts = random_accounts(random.Random(7), 13, 2)
    tree = build(accounts)
    assert tree.root.equity == tuple(sum(a.equity[k] for a in accounts) for k in range(2))
    assert tree.root.debt == tuple(sum(a.debt[k] for a in accounts) for k in range(2))


def test_every_level_node_sums_its_children() -> None:
    tree = build(random_accounts(random.Random(3), 6, 2))
    for below, above in zip(tree.levels, tree.levels[1:], strict=False):
        for j, parent in enumerate(above):
            left, right = below[2 * j], below[2 * j + 1]
            assert parent.equity == tuple(
                a + b for a, b in zip(left.equity, right.equity, strict=True)
            )
            assert parent.debt == tuple(a + b for a, b in zip(left.debt, right.debt, strict=True))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, AMOUNT_LIMIT // 64), min_size=2, max_size=2),
            st.lists(st.integers(0, AMOUNT_LIMIT // 64), min_size=2, max_size=2),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_random_account_sets_root_sums_equal_the_leaves_and_streaming_agrees(
    vectors: list[tuple[list[int], list[int]]],
) -> None:
    accounts = [account(f"u{i}", tuple(e), tuple(d)) for i, (e, d) in enumerate(vectors)]
    tree = build(accounts)
    assert tree.root.equity == tuple(sum(leaf.equity[k] for leaf in tree.leaves) for k in range(2))
    assert tree.root.debt == tuple(sum(leaf.debt[k] for leaf in tree.leaves) for k in range(2))
    assert fold_leaves(iter(tree.leaves), ASSETS).root == tree.root
    for a in accounts:
        verify_inclusion(tree.account_proof(a))


def test_a_public_proof_has_no_account_id_and_still_folds_to_the_root() -> None:
    tree = build([account("alice"), account("bob"), account("carol")])
    for index in range(tree.leaf_count):
        proof = tree.proof(index)
        assert proof.account_id is None and proof.nonce is None
        verify_inclusion(proof)


# ---- bad input: one InputError, before any tree exists ------------------------------------


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ([account("alice"), account("alice")], "duplicate account id"),
        ([account("alice", (-1, 0))], "non-negative"),
        ([account("alice", (AMOUNT_LIMIT, 0))], "below 2\\^128"),
        ([account("alice", (1, 0, 0))], "expected 2 amounts"),
        ([account("alice", debt=(0,))], "expected 2 amounts"),
        ([account("alice", (True, 0))], "integer amount"),
        ([account("alice", ("1", 0))], "integer amount"),  # type: ignore[arg-type]
        ([AccountInput("alice", b"short", (0, 0), (0, 0))], "nonce: expected 32 bytes, got 5"),
        ([AccountInput("", b"n" * 32, (0, 0), (0, 0))], "account_id: expected 1..65535 bytes"),
        ([AccountInput("\ud800", b"n" * 32, (0, 0), (0, 0))], "lone surrogate"),
        (
            [account("a", (AMOUNT_LIMIT - 1, 0)), account("b", (1, 0))],
            "total equity of BTC: expected below 2\\^128",
        ),
        (
            [account("a", debt=(0, AMOUNT_LIMIT - 1)), account("b", debt=(0, 1))],
            "total debt of ETH",
        ),
        (["alice"], "expected AccountInput"),
    ],
)
def test_bad_accounts_are_refused_with_one_clear_error(
    accounts: list[AccountInput], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        build(accounts)


class _Huge(Sequence[AccountInput]):
    """Claims 2^32 + 1 accounts; touching any of them fails the test."""

    def __len__(self) -> int:
        return MAX_LEAVES + 1

    @overload
    def __getitem__(self, index: int) -> AccountInput: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AccountInput]: ...
    def __getitem__(self, index: int | slice) -> AccountInput | Sequence[AccountInput]:
        raise AssertionError("an account was read before the size check")

    def __iter__(self) -> Iterator[AccountInput]:
        raise AssertionError("accounts were iterated before the size check")


def test_more_than_two_to_the_32_leaves_is_refused_before_reading_any_account() -> None:
    with pytest.raises(InputError, match="tree too large: expected at most 4294967296 leaves"):
        build(_Huge())


def test_padding_beyond_two_to_the_32_is_refused() -> None:
    with pytest.raises(InputError, match="tree too large"):
        build([account("alice")], min_leaves=MAX_LEAVES + 1)


@pytest.mark.parametrize(
    ("snapshot_id", "assets", "secret", "message"),
    [
        ("", ASSETS, SECRET, "snapshot_id"),
        (SID, (), SECRET, "assets: expected 1..256"),
        (SID, ("BTC", "BTC"), SECRET, "distinct"),
        (SID, ASSETS, b"short", "filler_secret: expected at least 16 bytes"),
    ],
)
def test_bad_snapshot_parameters_are_refused(
    snapshot_id: str, assets: tuple[str, ...], secret: bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        build_tree(snapshot_id, assets, [account("alice")], filler_secret=secret)


def test_a_leaf_list_with_a_repeated_or_unsorted_tag_is_refused() -> None:
    a, b = Leaf(b"\x01" * 32, (0,), (0,)), Leaf(b"\x02" * 32, (0,), (0,))
    ReferenceTree.from_leaves(SID, ["BTC"], [a, b])
    with pytest.raises(InputError, match="strictly ascending"):
        ReferenceTree.from_leaves(SID, ["BTC"], [a, a])
    with pytest.raises(InputError, match="strictly ascending"):
        ReferenceTree.from_leaves(SID, ["BTC"], [b, a])
    with pytest.raises(InputError, match="power of two >= 2 leaves, got 3"):
        ReferenceTree.from_leaves(SID, ["BTC"], [a, b, Leaf(b"\x03" * 32, (0,), (0,))])


def test_a_proof_for_an_unknown_account_is_refused() -> None:
    tree = build([account("alice")])
    with pytest.raises(InputError, match="no leaf with tag"):
        tree.account_proof(account("mallory"))
    with pytest.raises(InputError, match="vectors differ"):
        tree.account_proof(account("alice", (5, 0)))
