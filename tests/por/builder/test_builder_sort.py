"""Both sort kernels (numpy's quicksort, radix + timsort) give numpy's order, whichever
one this CPU picks; and the tag order and the duplicate-id check do not depend on it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.builder import AccountBatch, _sort
from por.builder._ids import first_duplicate_id
from por.builder._order import index_bits, merge_slice, packed_run, sort_by_tag
from por.builder._sort import merge_sorted_runs, simd_sort_is_fast, sort_keys
from por.builder.vectorgen import random_accounts

U64 = st.integers(0, (1 << 64) - 1)


@contextmanager
def forced(quick: bool) -> Iterator[None]:
    """The sorts use the quicksort (True) or radix + timsort, whatever this CPU prefers."""
    original = _sort.simd_sort_is_fast
    _sort.simd_sort_is_fast = lambda: quick  # type: ignore[assignment]
    try:
        yield
    finally:
        _sort.simd_sort_is_fast = original


@pytest.fixture(params=[True, False], ids=["quicksort", "radix-timsort"])
def kernel(request: pytest.FixtureRequest) -> Iterator[bool]:
    with forced(request.param):
        yield request.param


def test_the_probe_picks_one_kernel_once() -> None:
    first = simd_sort_is_fast()
    assert isinstance(first, bool)
    before = simd_sort_is_fast.cache_info()
    assert simd_sort_is_fast() is first
    after = simd_sort_is_fast.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)  # measured once


@pytest.mark.parametrize("quick", [True, False])
@given(values=st.lists(U64, max_size=300), repeats=st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_sort_keys_equals_numpys_sort(quick: bool, values: list[int], repeats: int) -> None:
    keys = np.array(values + values[:repeats], dtype=np.uint64)  # duplicates too
    expected = np.sort(keys)
    with forced(quick):
        sort_keys(keys)
    assert keys.tolist() == expected.tolist()


def test_large_keys_sharing_their_top_bits_sort_right(kernel: bool) -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 1 << 63, 200_000, dtype=np.uint64)
    keys[:50_000] &= np.uint64((1 << 48) - 1)  # one radix bucket holds a quarter of them
    keys[50_000:50_010] = np.uint64((1 << 64) - 1)
    expected = np.sort(keys)
    sort_keys(keys)
    assert np.array_equal(keys, expected)


def test_merge_sorted_runs_orders_concatenated_runs(kernel: bool) -> None:
    rng = np.random.default_rng(4)
    runs = [np.sort(rng.integers(0, 1 << 62, n, dtype=np.uint64)) for n in (0, 1, 7, 5000, 999)]
    keys = np.concatenate(runs)
    expected = np.sort(keys)
    merge_sorted_runs(keys)
    assert np.array_equal(keys, expected)


def test_tag_order_is_the_same_with_either_kernel(kernel: bool) -> None:
    rng = np.random.default_rng(5)
    tags = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    tags[10:20, :8] = tags[10, :8]  # ties in the packed keys' high bits
    expected = sorted(range(5000), key=lambda i: tags[i].tobytes())
    assert sort_by_tag(tags, str).tolist() == expected
    bits = index_bits(5000)
    runs = [packed_run(tags[a : a + 1000], a, bits) for a in range(0, 5000, 1000)]
    out = np.empty(5000, dtype=np.int64)
    merge_slice(runs, tags, bits, out)
    assert out.tolist() == expected


def test_duplicate_ids_are_found_with_either_kernel(kernel: bool) -> None:
    accounts = random_accounts(random.Random(6), 3000, 2)
    batch = AccountBatch.from_accounts(accounts, 2)
    assert first_duplicate_id(batch) is None
    dup = [*accounts[:2000], accounts[1234], *accounts[2000:]]
    assert first_duplicate_id(AccountBatch.from_accounts(dup, 2)) == (1234, 2000)
