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
"""

from __future__ import annotations

from pathlib import Path

from por._hashing import HASH_BYTES

__all__ = [
    "FENCE_NAME",
    "FENCE_STRIDE",
    "SECTION_ALIGN",
    "META_FORMAT",
    "META_NAME",
    "ORDER_BYTES",
    "TOP_NAME",
    "level_offsets",
    "order_offset",
    "padded",
    "part_name",
    "part_path",
    "partition_header_bytes",
]

META_NAME = "tree.json"
META_FORMAT = "por-tree-store/1"
TOP_NAME = "top.bin"
ORDER_BYTES = 4
SECTION_ALIGN = 4096
FENCE_NAME = "fences.bin"
FENCE_STRIDE = SECTION_ALIGN // HASH_BYTES


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
