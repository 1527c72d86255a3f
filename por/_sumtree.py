"""The parent rule of the Merkle sum tree, shared by the reference builder and the verifier.

Kept apart from both so the verifier never imports the builder (as pymerkle's proof module
never imports its tree), while the rule itself is written once.
"""

from __future__ import annotations

from por._hashing import AMOUNT_LIMIT, leaf_hash, node_hash
from por.model import Node

__all__ = ["SumOverflowError", "leaf_node", "parent_node"]


class SumOverflowError(ValueError):
    """A parent's sum reaches 2^128 for some asset (the spec forbids it)."""

    def __init__(self, side: str, asset: int, total: int) -> None:
        self.side = side
        self.asset = asset
        self.total = total
        super().__init__(f"{side} sum of asset {asset} reaches 2^128: {total}")


def _add(left: tuple[int, ...], right: tuple[int, ...], side: str) -> tuple[int, ...]:
    total = tuple(a + b for a, b in zip(left, right, strict=True))
    for i, value in enumerate(total):
        if value >= AMOUNT_LIMIT:
            raise SumOverflowError(side, i, value)
    return total


def leaf_node(tag: bytes, equity: tuple[int, ...], debt: tuple[int, ...]) -> Node:
    """The node of a leaf: its hash and its own two vectors."""
    return Node(leaf_hash(tag, equity, debt), equity, debt)


def parent_node(left: Node, right: Node) -> Node:
    """Parent of `left` and `right`: both children's sums are inside the hash."""
    return Node(
        node_hash(left.hash, left.equity, left.debt, right.hash, right.equity, right.debt),
        _add(left.equity, right.equity, "equity"),
        _add(left.debt, right.debt, "debt"),
    )
