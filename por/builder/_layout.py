"""On-disk layout of a built tree, shared by the builder (writes) and the proof store (reads).

    <out_dir>/tree.json          metadata and root, written last (its presence = build done)
    <out_dir>/part-NNNNN.bin     one per partition of L = 2^b leaves, in leaf order:
                                 tags (L x 32) | order (L x u32 LE) | level 0 pairs | ... |
                                 level b-1 pairs; each section zero-padded to a multiple of
                                 SECTION_ALIGN bytes (so it can be written with O_DIRECT)
    <out_dir>/top.bin            levels b .. height-1 above the partitions, as pairs
                                 (unpadded)
    <out_dir>/fences.bin         the tag of every FENCE_STRIDE-th leaf (one 4 KB page of
                                 tags): the proof store bisects it in memory, then reads
                                 one page

A pair record is `0x01 || left record || right record` (`pair_width` bytes), a node record
is `hash || enc(equity) || enc(debt)`. `order[i]` is the input index of leaf i: < account
count for an account, account count + j for filler j.

Versioning: `tree.json` carries `format` (`META_FORMAT`) and `layout` (`LAYOUT`, the
parameters above). A reader refuses a store whose format or layout is not exactly its
own (`check_layout`): a store written by other code is rebuilt, never misread. Any change
to the files above bumps `LAYOUT_VERSION` (and so `META_FORMAT`). Version 1 stores carried
no layout field and are refused.
"""

from __future__ import annotations

from pathlib import Path

from por._hashing import HASH_BYTES

__all__ = [
    "FENCE_NAME",
    "FENCE_STRIDE",
    "LAYOUT",
    "LAYOUT_VERSION",
    "LayoutError",
    "SECTION_ALIGN",
    "META_FORMAT",
    "META_NAME",
    "ORDER_BYTES",
    "TOP_NAME",
    "check_layout",
    "level_offsets",
    "order_offset",
    "padded",
    "part_name",
    "part_path",
    "partition_header_bytes",
]

META_NAME = "tree.json"
LAYOUT_VERSION = 2
META_FORMAT = f"por-tree-store/{LAYOUT_VERSION}"
TOP_NAME = "top.bin"
ORDER_BYTES = 4
SECTION_ALIGN = 4096
FENCE_NAME = "fences.bin"
FENCE_STRIDE = SECTION_ALIGN // HASH_BYTES
LAYOUT: dict[str, object] = {
    "version": LAYOUT_VERSION,
    "partition": "tags|order_u32le|pairs_level_0..partition_height-1",
    "section_align": SECTION_ALIGN,
    "top": "pairs_level_partition_height..height-1",
    "pair": "0x01|left_record|right_record",
    "record": "hash|u128be_equity|u128be_debt",
    "fence_stride": FENCE_STRIDE,
}


class LayoutError(ValueError):
    """A store whose format or layout is not the one this code reads."""


def check_layout(meta: dict[str, object], where: str) -> None:
    """Refuse a `tree.json` written with another layout, naming both versions."""
    found = meta.get("format")
    layout = meta.get("layout")
    if found == META_FORMAT and layout == LAYOUT:
        return
    if isinstance(found, str) and found.startswith("por-tree-store/"):
        detail = (
            f"layout {layout!r}"
            if found == META_FORMAT
            else f"format {found!r} (layout version {found.rsplit('/', 1)[1]})"
        )
        raise LayoutError(
            f"{where}: tree store written with {detail}, but this code reads "
            f"{META_FORMAT!r} (layout version {LAYOUT_VERSION}): rebuild the tree"
        )
    raise LayoutError(f"{where}: not a tree store (format {found!r})")


def padded(nbytes: int, align: int = SECTION_ALIGN) -> int:
    return -(-nbytes // align) * align


def part_name(index: int) -> str:
    return f"part-{index:05d}.bin"


def part_path(out_dir: Path, index: int) -> Path:
    return out_dir / part_name(index)


def level_offsets(
    nodes: int, levels: int, pair_bytes: int, start: int = 0, align: int = 1
) -> list[int]:
    """Byte offset of each of `levels` pair levels, the lowest having `nodes` nodes."""
    offsets = []
    pos = start
    for k in range(levels):
        offsets.append(pos)
        pos += padded((nodes >> (k + 1)) * pair_bytes, align)
    offsets.append(pos)  # end
    return offsets


def order_offset(leaves: int) -> int:
    """Start of the order section of a partition file (after the padded tags)."""
    return padded(leaves * HASH_BYTES)


def partition_header_bytes(leaves: int) -> int:
    """Bytes before level 0 in a partition file: padded tags, then padded order."""
    return order_offset(leaves) + padded(leaves * ORDER_BYTES)
