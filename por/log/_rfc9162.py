"""RFC 9162 (Certificate Transparency 2.0) Merkle Tree Hash and its proofs, section 2.1.

Pure functions over leaf hashes: no storage, no I/O. Two ways to compute each thing live
side by side: the recursive definitions copied from the RFC (`*_reference`, the oracle
the tests compare against) and a *layout* form that names the leaf ranges whose subtree
hashes make up a proof, so that a store can fetch those hashes from an index in one query
instead of rehashing the log.

Sizes and indices follow the RFC: a log of `n` entries has leaves `0 .. n-1`; `D[a:b]`
is the leaf range `a <= i < b`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from por.log.errors import LogProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_BYTES",
    "MAX_LOG_SIZE",
    "LogProofError",
    "consistency_path_length",
    "consistency_proof",
    "consistency_proof_reference",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_proof_reference",
    "inclusion_ranges",
    "leaf_hash",
    "mth",
    "mth_reference",
    "node_hash",
    "perfect_subtrees",
    "SubtreeHashes",
    "root_from_subtrees",
    "verify_consistency",
    "verify_inclusion",
]

HASH_BYTES = 32
MAX_LOG_SIZE = 1 << 62  # far beyond any hourly log; bounds the loops below
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH()

Range = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d(0)}) = HASH(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- the RFC's recursive definitions (reference) -------------------------------------


def mth_reference(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, exactly the recursive definition of section 2.1.1."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(mth_reference(leaves[:k]), mth_reference(leaves[k:]))


def inclusion_proof_reference(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of section 2.1.3.1."""
    n = len(leaves)
    if not 0 <= index < n:
        raise LogProofError(f"no inclusion proof: index {index} is outside a log of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof_reference(leaves[:k], index) + [mth_reference(leaves[k:])]
    return inclusion_proof_reference(leaves[k:], index - k) + [mth_reference(leaves[:k])]


def consistency_proof_reference(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of section 2.1.4.1."""
    _check_sizes(first, len(leaves))

    def subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if whole else [mth_reference(d)]
        k = _split(n)
        if m <= k:
            return subproof(m, d[:k], whole) + [mth_reference(d[k:])]
        return subproof(m - k, d[k:], False) + [mth_reference(d[:k])]

    return subproof(first, leaves, True)


# --- layouts: which leaf ranges a proof is made of ----------------------------------


def _check_sizes(first: int, second: int) -> None:
    if not 0 <= second <= MAX_LOG_SIZE:
        raise LogProofError(f"log size out of range [0, 2^62]: {second}")
    if not 0 < first <= second:
        raise LogProofError(
            f"no consistency proof from size {first} to size {second}: need 0 < first <= second"
        )


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs make up PATH(index, D[size]), leaf first."""
    if not 0 <= index < size <= MAX_LOG_SIZE:
        raise LogProofError(f"no inclusion proof: index {index} is outside a log of size {size}")
    out: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose MTHs make up PROOF(first, D[second]), in proof order."""
    _check_sizes(first, second)
    out: list[Range] = []
    start, m, n, whole = 0, first, second, True
    while m != n:
        k = _split(n)
        if m <= k:
            out.append((start + k, start + n))
            n = k
        else:
            out.append((start, start + k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:
        out.append((start, start + n))
    out.reverse()
    return out


def consistency_path_length(first: int, second: int) -> int:
    """How many hashes a consistency proof between these sizes has."""
    return len(consistency_ranges(first, second))


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """`D[start:end]` as aligned perfect subtrees `(level, index)`, left to right.

    A subtree `(level, index)` covers leaves `index*2^level .. (index+1)*2^level - 1`.
    Every range that occurs in an RFC 9162 tree (a node of it) decomposes this way;
    other ranges raise, because their hash is not the MTH of a node.
    """
    out: list[tuple[int, int]] = []
    width = end - start
    if width <= 0:
        raise LogProofError(f"empty leaf range [{start}, {end})")
    pos = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            if pos % (1 << level):
                raise LogProofError(f"leaf range [{start}, {end}) is not a node of the tree")
            out.append((level, pos >> level))
            pos += 1 << level
    return out


def root_from_subtrees(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees' hashes (left to right): fold from the right."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


SubtreeHashes = Callable[[Sequence[tuple[int, int]]], dict[tuple[int, int], bytes]]


def _resolve(ranges: Sequence[Range], fetch: SubtreeHashes) -> list[bytes]:
    parts = [perfect_subtrees(a, b) for a, b in ranges]
    known = fetch(sorted({key for part in parts for key in part}))
    return [root_from_subtrees([known[key] for key in part]) for part in parts]


def mth(size: int, fetch: SubtreeHashes) -> bytes:
    """MTH(D[size]) from stored perfect-subtree hashes (`fetch` maps keys to hashes)."""
    return EMPTY_ROOT if size == 0 else _resolve([(0, size)], fetch)[0]


def inclusion_proof(index: int, size: int, fetch: SubtreeHashes) -> list[bytes]:
    return _resolve(inclusion_ranges(index, size), fetch)


def consistency_proof(first: int, second: int, fetch: SubtreeHashes) -> list[bytes]:
    return _resolve(consistency_ranges(first, second), fetch)


# --- verification -------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise LogProofError(f"{what} must be {HASH_BYTES} bytes")


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Section 2.1.3.2; returns None or raises LogProofError."""
    if not 0 <= index < size <= MAX_LOG_SIZE:
        raise LogProofError(f"no inclusion proof: index {index} is outside a log of size {size}")
    expected = len(inclusion_ranges(index, size))
    if len(path) != expected:
        raise LogProofError(f"inclusion proof has wrong size: expected {expected}, got {len(path)}")
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root")
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(path):
        _check_hash(p, f"inclusion path[{i}]")
        if sn == 0:
            raise LogProofError("inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogProofError("inclusion proof is shorter than the tree is high")
    if not hmac.compare_digest(r, root):
        raise LogProofError("inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> None:
    """Section 2.1.4.2; returns None or raises LogProofError.

    `first == second` is accepted with an empty path when the roots are equal (the same
    log head); the RFC's algorithm covers `0 < first < second`.
    """
    _check_sizes(first, second)
    _check_hash(first_root, "first root")
    _check_hash(second_root, "second root")
    for i, p in enumerate(path):
        _check_hash(p, f"consistency path[{i}]")
    expected = consistency_path_length(first, second)
    if len(path) != expected:
        raise LogProofError(
            f"consistency proof has wrong size: expected {expected}, got {len(path)}"
        )
    if first == second:
        if not hmac.compare_digest(first_root, second_root):
            raise LogProofError(f"two different roots for the same log size {first}")
        return
    # 1. (path non-empty: checked by the length) 2. prepend first_root for a power of two
    hashes = list(path)
    if first & (first - 1) == 0:
        hashes.insert(0, first_root)
    # 3.-4.
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.-6.
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise LogProofError("consistency proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise LogProofError("consistency proof is shorter than the tree is high")
    if not hmac.compare_digest(fr, first_root):
        raise LogProofError(f"consistency proof does not reproduce the root of size {first}")
    if not hmac.compare_digest(sr, second_root):
        raise LogProofError(f"consistency proof does not reproduce the root of size {second}")
