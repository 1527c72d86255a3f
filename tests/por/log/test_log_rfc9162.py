"""RFC 9162 section 2.1: the layout (fast) path against the RFC's recursive definitions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.log import EMPTY_ROOT, ConsistencyProof, LogProofError
from por.log._rfc9162 import (
    SubtreeHashes,
    consistency_proof,
    consistency_proof_reference,
    inclusion_proof,
    inclusion_proof_reference,
    leaf_hash,
    mth,
    mth_reference,
    perfect_subtrees,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def _fetcher(leaves: list[bytes]) -> SubtreeHashes:
    """Subtree hashes computed by the RFC's own definition (what a store must return)."""

    def fetch(keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {(lv, ix): mth_reference(leaves[ix << lv : (ix + 1) << lv]) for lv, ix in keys}

    return fetch


def test_leaf_and_empty_hashes_follow_the_rfc() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert mth_reference([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert mth(0, _fetcher([])) == EMPTY_ROOT


@pytest.mark.parametrize("n", range(1, 40))
def test_layout_paths_equal_the_recursive_definitions_for_every_size_up_to_39(n: int) -> None:
    leaves = _leaves(n)
    fetch = _fetcher(leaves)
    root = mth_reference(leaves)
    assert mth(n, fetch) == root
    for m in range(1, n + 1):
        path = consistency_proof(m, n, fetch)
        assert path == consistency_proof_reference(leaves, m), f"PROOF({m}, D[{n}])"
        verify_consistency(m, n, mth_reference(leaves[:m]), root, path)
    for i in range(n):
        path = inclusion_proof(i, n, fetch)
        assert path == inclusion_proof_reference(leaves, i), f"PATH({i}, D[{n}])"
        verify_inclusion(i, n, leaves[i], path, root)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=300))
def test_consistency_proofs_verify_and_any_single_byte_change_fails(
    data: st.DataObject, n: int
) -> None:
    m = data.draw(st.integers(min_value=1, max_value=n), label="m")
    leaves = _leaves(n)
    first, second = mth_reference(leaves[:m]), mth_reference(leaves)
    path = consistency_proof(m, n, _fetcher(leaves))
    verify_consistency(m, n, first, second, path)
    if m == n:
        assert path == []
        return
    blob = bytearray(b"".join(path))
    where = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="byte")
    blob[where] ^= data.draw(st.integers(min_value=1, max_value=255), label="xor")
    bad = [bytes(blob[k : k + 32]) for k in range(0, len(blob), 32)]
    with pytest.raises(LogProofError, match="does not reproduce the root"):
        verify_consistency(m, n, first, second, bad)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=200))
def test_a_proof_checked_against_other_sizes_fails(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(min_value=1, max_value=n - 1), label="m")
    leaves = _leaves(n + 1)
    path = consistency_proof(m, n, _fetcher(leaves))
    other = data.draw(st.integers(min_value=m + 1, max_value=n + 1).filter(lambda k: k != n))
    with pytest.raises(LogProofError):
        verify_consistency(m, other, mth_reference(leaves[:m]), mth_reference(leaves[:other]), path)


def test_same_size_needs_an_empty_path_and_the_same_root() -> None:
    leaves = _leaves(5)
    root = mth_reference(leaves)
    verify_consistency(5, 5, root, root, [])
    with pytest.raises(LogProofError, match="two different roots for the same log size 5"):
        verify_consistency(5, 5, root, mth_reference(_leaves(6)[1:]), [])
    with pytest.raises(LogProofError, match="wrong size: expected 0, got 1"):
        verify_consistency(5, 5, root, root, [root])


@pytest.mark.parametrize(("m", "n"), [(0, 4), (5, 4), (-1, 3)])
def test_no_consistency_proof_exists_outside_zero_to_n(m: int, n: int) -> None:
    with pytest.raises(LogProofError, match="no consistency proof"):
        consistency_proof(m, n, _fetcher(_leaves(max(n, 0))))
    with pytest.raises(LogProofError, match="no consistency proof"):
        verify_consistency(m, n, EMPTY_ROOT, EMPTY_ROOT, [])


def test_hashes_of_the_wrong_length_are_rejected_not_crashed_on() -> None:
    leaves = _leaves(3)
    path = consistency_proof_reference(leaves, 2)
    with pytest.raises(LogProofError, match=r"consistency path\[0\] must be 32 bytes"):
        verify_consistency(2, 3, mth_reference(leaves[:2]), mth_reference(leaves), [b"x"])
    with pytest.raises(LogProofError, match="first root must be 32 bytes"):
        verify_consistency(2, 3, b"", mth_reference(leaves), path)


def test_ranges_that_are_not_tree_nodes_have_no_stored_hash() -> None:
    assert perfect_subtrees(8, 14) == [(2, 2), (1, 6)]
    with pytest.raises(LogProofError, match=r"leaf range \[1, 3\) is not a node"):
        perfect_subtrees(1, 3)


def test_consistency_proof_json_round_trips_and_rejects_bad_hex() -> None:
    proof = ConsistencyProof(1, 4, (b"\x11" * 32, b"\x22" * 32))
    assert ConsistencyProof.from_json(proof.to_json()) == proof
    with pytest.raises(LogProofError, match=r"path\[1\]: expected 64 lowercase hex"):
        ConsistencyProof.from_json({"first": 1, "second": 4, "path": ["11" * 32, "AB" * 32]})
    with pytest.raises(LogProofError, match="first: expected a non-negative integer"):
        ConsistencyProof.from_json({"first": True, "second": 4, "path": []})
