"""The verifier: the five checks of `proof-format.md`, and the rebuild of a published leaf list.

Pure: parsed records (or bytes) in, `None` or a summary out, or an exception naming the
check that failed. No file, network or clock access, and no import of the tree builder, so
an auditor can read all of it in one sitting.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from por._hashing import tag_hash
from por._sumtree import SumOverflowError, leaf_node, parent_node
from por.errors import ManifestError, ProofError, TreeError
from por.leaves import Leaf
from por.manifest import Manifest, parse_manifest_bytes, verify_manifest
from por.model import MAX_LEAVES, Node
from por.proof import InclusionProof, parse_proof_bytes

__all__ = [
    "TreeSummary",
    "fold_leaves",
    "verify_inclusion",
    "verify_leaves",
    "verify_proof",
    "verify_proof_bytes",
]


@dataclass(frozen=True, slots=True)
class TreeSummary:
    """What a full rebuild established: how many leaves, the height and the root node."""

    leaf_count: int
    height: int
    root: Node


def _differs(
    symbols: tuple[str, ...], got: Node, want: Node, got_name: str, want_name: str
) -> str | None:
    """First difference between two nodes: "root hash: <got_name> X, <want_name> Y"."""
    if not hmac.compare_digest(got.hash, want.hash):
        return f"root hash: {got_name} {got.hash.hex()}, {want_name} {want.hash.hex()}"
    for side, mine, theirs in (("equity", got.equity, want.equity), ("debt", got.debt, want.debt)):
        for symbol, a, b in zip(symbols, mine, theirs, strict=True):
            if a != b:
                return f"root {side} of {symbol}: {got_name} {a}, {want_name} {b}"
    return None


def verify_inclusion(proof: InclusionProof) -> None:
    """Checks 2-4 on a parsed (hence check-1-clean) proof; raises `ProofError`."""
    if proof.account_id is not None and proof.nonce is not None:
        tag = tag_hash(proof.snapshot_id, proof.nonce, proof.account_id)
        if not hmac.compare_digest(tag, proof.leaf.tag):
            raise ProofError(
                2,
                f"tag from snapshot id, nonce and account id is {tag.hex()},"
                f" proof leaf tag is {proof.leaf.tag.hex()}",
            )
    index, height = proof.leaf.index, len(proof.path)
    if not 0 <= index < (1 << height):
        raise ProofError(3, f"index: expected 0 <= index < 2^{height}, got {index}")
    node = leaf_node(proof.leaf.tag, proof.leaf.equity, proof.leaf.debt)
    for level, sibling in enumerate(proof.path):
        is_right = (index >> level) & 1
        try:
            node = parent_node(sibling, node) if is_right else parent_node(node, sibling)
        except SumOverflowError as exc:
            raise ProofError(
                4,
                f"{exc.side} sum of {proof.assets[exc.asset]} at level {level + 1}"
                f" reaches 2^128 ({exc.total})",
            ) from None
    difference = _differs(proof.assets, node, proof.root, "path folds to", "proof has")
    if difference is not None:
        raise ProofError(4, difference)


def _check_manifest(proof: InclusionProof, manifest: Manifest, public_key: bytes | None) -> None:
    try:
        verify_manifest(manifest, public_key)
    except ManifestError as exc:
        raise ProofError(5, str(exc)) from None
    if proof.snapshot_id != manifest.snapshot_id:
        raise ProofError(
            5,
            f"snapshot id: manifest has {manifest.snapshot_id!r}, proof has {proof.snapshot_id!r}",
        )
    if proof.assets != manifest.symbols:
        raise ProofError(
            5, f"assets: manifest has {list(manifest.symbols)}, proof has {list(proof.assets)}"
        )
    if len(proof.path) != manifest.height:
        raise ProofError(
            5, f"height: manifest tree has {manifest.height}, proof path has {len(proof.path)}"
        )
    difference = _differs(proof.assets, proof.root, manifest.root, "proof has", "manifest has")
    if difference is not None:
        raise ProofError(5, difference)


def verify_proof(
    proof: InclusionProof, manifest: Manifest, public_key: bytes | None = None
) -> None:
    """All five checks; returns `None` when the proof holds, else raises `ProofError`.

    Check 1 is parsing (`parse_proof`). With `public_key` the manifest must be signed by
    exactly that key; without it, by the key it names, which proves only that someone
    signed: callers pin (`por verify proof` needs --public-key unless told
    --trust-manifest-key). A weak key (small order, non-canonical) fails check 5 either way.
    """
    verify_inclusion(proof)
    _check_manifest(proof, manifest, public_key)


def verify_proof_bytes(proof: bytes, manifest: bytes, public_key: bytes | None = None) -> None:
    """`verify_proof` from raw file bytes.

    `NotJSONError` when either is not JSON; `ProofError` for every other defect (a
    malformed manifest fails check 5).
    """
    parsed_proof = parse_proof_bytes(proof)
    try:
        parsed_manifest = parse_manifest_bytes(manifest)
    except ManifestError as exc:
        raise ProofError(5, str(exc)) from None
    verify_proof(parsed_proof, parsed_manifest, public_key)


def fold_leaves(leaves: Iterable[Leaf], assets: tuple[str, ...]) -> TreeSummary:
    """Rebuild the root of a full leaf list in tree order, holding O(height) nodes.

    Raises `TreeError` if tags are not strictly ascending, a vector has the wrong length, a
    sum overflows, or the count is not a power of two >= 2 (at most 2^32).
    """
    stack: list[tuple[int, Node]] = []  # (level, node); levels strictly decrease
    previous: bytes | None = None
    count = 0
    for leaf in leaves:
        count += 1
        if count > MAX_LEAVES:
            raise TreeError(f"leaf list: expected at most {MAX_LEAVES} leaves, got more")
        if len(leaf.equity) != len(assets) or len(leaf.debt) != len(assets):
            raise TreeError(
                f"leaf {count}: expected {len(assets)} amounts per vector,"
                f" got {len(leaf.equity)} and {len(leaf.debt)}"
            )
        if previous is not None and leaf.tag <= previous:
            relation = "repeats" if leaf.tag == previous else "is below"
            raise TreeError(
                f"leaf {count}: tags must be strictly ascending, {leaf.tag.hex()} {relation}"
                f" the previous tag {previous.hex()}"
            )
        previous = leaf.tag
        level, node = 0, leaf_node(leaf.tag, leaf.equity, leaf.debt)
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            try:
                node = parent_node(left, node)
            except SumOverflowError as exc:
                raise TreeError(
                    f"{exc.side} sum of {assets[exc.asset]} reaches 2^128 at leaf {count}"
                ) from None
            level += 1
        stack.append((level, node))
    if count < 2 or len(stack) != 1:
        raise TreeError(f"leaf list: expected a power of two >= 2 leaves, got {count}")
    level, root = stack[0]
    return TreeSummary(leaf_count=count, height=level, root=root)


def verify_leaves(
    leaves: Iterable[Leaf], manifest: Manifest, public_key: bytes | None = None
) -> TreeSummary:
    """Rebuild the tree from a published leaf list and compare with a verified manifest.

    The manifest's signature is checked first (`ManifestError`), so no time is spent on
    leaves of a manifest that would be rejected anyway; then `TreeError` on any mismatch.
    """
    verify_manifest(manifest, public_key)
    summary = fold_leaves(leaves, manifest.symbols)
    if summary.height != manifest.height:
        raise TreeError(
            f"height: manifest has {manifest.height}, leaf list gives {summary.height}"
            f" ({summary.leaf_count} leaves)"
        )
    difference = _differs(
        manifest.symbols, summary.root, manifest.root, "leaf list gives", "manifest has"
    )
    if difference is not None:
        raise TreeError(difference)
    return summary
