"""Bad builder input: one clear `TreeInputError` (an `InputError`), nothing written."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from por.builder import (
    AccountBatch,
    LeafBatch,
    TreeInputError,
    build_tree,
    build_tree_from_leaves,
    reference,
)
from por.builder._ids import first_duplicate_id
from por.builder._limbs import add_u128, ints_to_limbs, limbs_to_ints, totals
from por.builder._order import index_bits, packed_run, sort_by_tag
from por.errors import InputError
from por.model import AccountInput

ASSETS = ("BTC", "ETH")
SNAPSHOT = "2026-11-24T16:00:00Z"
SECRET = b"input-test-filler-secret"
MAX = 2**128 - 1


def acc(
    name: str, equity: tuple[int, ...] = (1, 2), debt: tuple[int, ...] = (0, 0)
) -> AccountInput:
    return AccountInput(name, name.encode().ljust(32, b"\0")[:32], equity, debt)


def rejected(out: Path, accounts: list[AccountInput], match: str, **kwargs: object) -> None:
    with pytest.raises(TreeInputError, match=match):
        build_tree(accounts, ASSETS, SNAPSHOT, SECRET, out_dir=out, engine="serial", **kwargs)  # type: ignore[arg-type]
    assert not out.exists() or not any(out.iterdir()), "files were written for rejected input"


def test_input_error_is_a_value_error_and_the_package_input_error() -> None:
    assert issubclass(TreeInputError, ValueError), "callers catching ValueError must catch it"
    assert issubclass(TreeInputError, InputError), "por's InputError root"


def test_a_repeated_account_is_rejected_as_a_duplicate_id(tmp_path: Path) -> None:
    # same id and nonce: the tags are equal too; the id check names it first, as the
    # reference (por.builder.reference) does
    rejected(
        tmp_path / "t",
        [acc("a"), acc("b"), acc("a")],
        r"account 2 \('a'\): duplicate account id, already account 0",
    )


def test_duplicate_id_with_another_nonce_is_rejected_like_the_reference(tmp_path: Path) -> None:
    twin = AccountInput("b", b"\x07" * 32, (5, 0), (0, 0))
    accounts = [acc("a"), acc("b"), acc("c"), twin, AccountInput("a", b"\x09" * 32, (1, 1), (0, 0))]
    message = r"account 3 \('b'\): duplicate account id, already account 1"
    with pytest.raises(InputError, match=message):
        reference.build_tree(SNAPSHOT, ASSETS, accounts, filler_secret=SECRET)
    rejected(tmp_path / "serial", accounts, message)
    with pytest.raises(TreeInputError, match=message):
        build_tree(
            accounts, ASSETS, SNAPSHOT, SECRET, engine="local", workers=2, out_dir=tmp_path / "l"
        )
    assert not any((tmp_path / "l").iterdir()), "files were written for rejected input"


def test_duplicate_ids_are_found_among_ids_of_any_length() -> None:
    rng = random.Random(4)
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"  # differ only after the fingerprinted 64 B
    names = [f"u{rng.randrange(10**9)}-{'é' * rng.randrange(12)}" for _ in range(3000)]
    names = list(dict.fromkeys(names)) + ["", "q", long_a, long_b, "\U00010000" * 3]
    unique = [AccountInput(n, bytes(32), (0, 0), (0, 0)) for n in names]
    assert first_duplicate_id(AccountBatch.from_accounts(unique, 2)) is None, "no duplicates"
    for later, earlier in ((len(names) - 3, 40), (len(names) - 5, len(names) - 4), (17, 3)):
        accounts = list(unique)
        accounts[later] = AccountInput(names[earlier], b"\x01" * 32, (0, 0), (0, 0))
        batch = AccountBatch.from_accounts(accounts, 2)
        assert first_duplicate_id(batch) == (min(earlier, later), max(earlier, later)), (
            f"duplicate of {names[earlier]!r} at {later}"
        )


def test_fixed_width_ids_are_checked_in_place_and_report_the_first_repeat() -> None:
    ids = [f"acct{i:010d}" for i in range(5000)]
    ids[4000] = ids[123]
    ids[2500] = ids[7]
    ids[4500] = ids[7]
    accounts = [AccountInput(i, bytes(32), (0, 0), (0, 0)) for i in ids]
    assert first_duplicate_id(AccountBatch.from_accounts(accounts, 2)) == (7, 2500), "first"


def test_negative_amount_is_rejected_naming_the_account(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a"), acc("b", (1, -1))], r"account 1 \('b'\): equity\[1\]")


def test_amount_of_2_pow_128_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a", debt=(0, 2**128))], r"debt\[1\] = .* \[0, 2\^128\)")


def test_float_and_bool_amounts_are_rejected(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a", (1.0, 2))], r"equity\[0\] = 1.0 is not an integer")  # type: ignore[arg-type]
    rejected(tmp_path / "u", [acc("a", (True, 2))], r"equity\[0\] = True is not an integer")


def test_vector_of_wrong_length_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a", (1, 2, 3))], r"vectors must have 2 amounts")


def test_nonce_of_wrong_length_is_rejected(tmp_path: Path) -> None:
    bad = AccountInput("a", b"short", (1, 2), (0, 0))
    rejected(tmp_path / "t", [bad], r"nonce must be 32 bytes, got 5")


def test_more_than_2_pow_32_leaves_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a")], r"tree too large", min_leaves=2**32 + 1)


def test_totals_reaching_2_pow_128_are_rejected_before_building(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a", (MAX, 0)), acc("b", (1, 0))], r"total equity of asset 0")


def test_short_filler_secret_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TreeInputError, match="filler_secret"):
        build_tree([acc("a")], ASSETS, SNAPSHOT, b"short", out_dir=tmp_path / "t")


def test_partition_count_that_is_not_a_power_of_two_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path / "t", [acc("a")], r"partitions must be a power of two", partitions=3)


def test_unknown_engine_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TreeInputError, match="unknown engine 'gpu'"):
        build_tree([acc("a")], ASSETS, SNAPSHOT, SECRET, out_dir=tmp_path, engine="gpu")  # type: ignore[arg-type]


def test_batch_with_wrong_amount_shape_is_rejected() -> None:
    with pytest.raises(TreeInputError, match="amounts must be uint64 of shape"):
        AccountBatch.from_arrays(
            b"ab",
            np.array([0, 1, 2], dtype=np.int64),
            np.zeros((2, 32), dtype=np.uint8),
            np.zeros((2, 2, 3, 2), dtype=np.uint64),
            2,
        )


def test_leaf_list_out_of_order_or_with_duplicates_is_rejected(tmp_path: Path) -> None:
    tags = [bytes([2]) * 32, bytes([1]) * 32]
    leaves = LeafBatch.from_strings([(t, [0, 0], [0, 0]) for t in tags], 2)
    with pytest.raises(TreeInputError, match="tags out of order at leaves 0 and 1"):
        build_tree_from_leaves(leaves, ASSETS, SNAPSHOT, out_dir=tmp_path / "a")
    same = LeafBatch.from_strings([(tags[0], [0, 0], [0, 0])] * 2, 2)
    with pytest.raises(TreeInputError, match="duplicate tag at leaves 0 and 1"):
        build_tree_from_leaves(same, ASSETS, SNAPSHOT, out_dir=tmp_path / "b")


def test_u128_limb_addition_carries_and_reports_overflow() -> None:
    a = ints_to_limbs([2**64 - 1, MAX, 5])
    b = ints_to_limbs([1, 1, 7])
    total, overflow = add_u128(a[:1], b[:1])
    assert limbs_to_ints(total) == [2**64], "carry from the low limb"
    assert not overflow, "no overflow below 2^128"
    _, overflow = add_u128(a[1:2], b[1:2])
    assert overflow, "2^128 - 1 + 1 must report overflow"
    _, overflow = add_u128(ints_to_limbs([2**127]), ints_to_limbs([2**127]))
    assert overflow, "overflow in the high limb must be reported"


def test_exact_totals_of_limbs_beyond_2_pow_64() -> None:
    values = [2**100 + 3, 2**64 - 1, 2**64 + 9, 17]
    limbs = ints_to_limbs(values).reshape(2, 2, 2)
    assert totals(limbs) == [values[0] + values[2], values[1] + values[3]], "exact sums"


def test_tags_sharing_an_8_byte_prefix_are_still_ordered_bytewise() -> None:
    rng = np.random.default_rng(3)
    tags = rng.integers(0, 256, (64, 32), dtype=np.uint8)
    tags[10:20, :8] = tags[10, :8]  # ten tags tie on the sort key, differ after it
    tags[40:43, :7] = tags[40, :7]  # three tie on the high bits only (the index fills the rest)
    expected = sorted(range(64), key=lambda i: tags[i].tobytes())
    assert sort_by_tag(tags, str).tolist() == expected, "full sort with prefix ties"
    bits = index_bits(64)
    runs = np.concatenate([packed_run(tags[:32], 0, bits), packed_run(tags[32:], 32, bits)])
    assert sort_by_tag(tags, str, runs).tolist() == expected, "merged runs with prefix ties"


def test_many_tied_keys_fall_back_to_one_full_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("por.builder._order.MAX_TIED", 2)
    tags = np.zeros((16, 32), dtype=np.uint8)
    tags[:, 31] = np.arange(16)[::-1]  # all tie on the key; the last byte orders them
    assert sort_by_tag(tags, str).tolist() == list(range(15, -1, -1)), "lexsort fallback"
    tags[3, 31] = tags[9, 31]
    with pytest.raises(TreeInputError, match="duplicate tag 0+0[0-9a-f]: 3 and 9"):
        sort_by_tag(tags, str)


def test_duplicate_tags_hidden_behind_a_prefix_tie_are_rejected() -> None:
    tags = np.zeros((4, 32), dtype=np.uint8)
    tags[:, 31] = [1, 2, 1, 3]
    with pytest.raises(TreeInputError, match="duplicate tag 0+01: 0 and 2"):
        sort_by_tag(tags, str)


def test_a_shipped_partition_whose_total_reaches_2_128_is_refused_before_its_file(
    tmp_path: Path,
) -> None:
    from por.builder.partition import PartitionInput, build_partition

    leaves = 4
    amounts = np.zeros((leaves, 2, len(ASSETS), 2), dtype=np.uint64)
    amounts[:, 1, 1] = ints_to_limbs([2**126] * leaves)  # debt of ETH: exactly 2^128 in all
    part = PartitionInput(
        3,
        np.arange(leaves * 32, dtype=np.uint8).reshape(leaves, 32),
        np.arange(leaves, dtype=np.uint32),
        amounts,
    )
    with pytest.raises(TreeInputError, match=r"partition 3: total debt of asset 1 reaches 2\^128"):
        build_partition(part, str(tmp_path))
    assert not any(tmp_path.iterdir()), "a file was written for a refused partition"
    amounts[0, 1, 1] = ints_to_limbs([2**126 - 1])[0]  # one less: fits
    assert build_partition(part, str(tmp_path)).index == 3
