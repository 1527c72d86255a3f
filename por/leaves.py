"""Published leaf lists: one `{"tag", "equity", "debt"}` JSON object per line, in tree order.

An auditor rebuilds the whole tree from this list (`por verify tree`) and checks totals and
every leaf without learning any account id.

Record `Leaf`
  Fields: tag (32 bytes), equity and debt (one int per snapshot asset).
  Guarantees (once parsed): amounts in [0, 2^128); vectors of the snapshot's length.
  Order, uniqueness and count are properties of the list, checked by the consumer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from por._canonical import canonical_json
from por._fields import FieldError, read_hash, read_keys, read_object, read_vector
from por._input import iter_json_lines
from por.errors import TreeError

__all__ = ["Leaf", "dump_leaves", "leaf_to_json", "parse_leaf", "read_leaves"]

_LEAF_KEYS = frozenset({"tag", "equity", "debt"})


@dataclass(frozen=True, slots=True)
class Leaf:
    """A leaf of the tree: a real account's or a filler's (they are indistinguishable)."""

    tag: bytes
    equity: tuple[int, ...]
    debt: tuple[int, ...]


def parse_leaf(value: Any, where: str, assets: int) -> Leaf:
    """A decoded JSON leaf record; raises `TreeError` naming the bad field."""
    try:
        obj = read_object(value, where)
        read_keys(obj, where, _LEAF_KEYS)
        return Leaf(
            tag=read_hash(obj["tag"], f"{where}.tag"),
            equity=read_vector(obj["equity"], f"{where}.equity", assets),
            debt=read_vector(obj["debt"], f"{where}.debt", assets),
        )
    except FieldError as exc:
        raise TreeError(str(exc)) from None


def leaf_to_json(leaf: Leaf) -> dict[str, Any]:
    return {
        "tag": leaf.tag.hex(),
        "equity": [str(v) for v in leaf.equity],
        "debt": [str(v) for v in leaf.debt],
    }


def read_leaves(stream: IO[bytes], assets: int, what: str = "leaves") -> Iterator[Leaf]:
    """Leaves of a JSON Lines stream, one line in memory at a time."""
    for number, value in iter_json_lines(stream, what):
        yield parse_leaf(value, f"{what} line {number}", assets)


def dump_leaves(leaves: Iterable[Leaf], stream: IO[bytes]) -> None:
    """Write a leaf list as JSON Lines (canonical JSON per line, newline-terminated)."""
    for leaf in leaves:
        stream.write(canonical_json(leaf_to_json(leaf)) + b"\n")
