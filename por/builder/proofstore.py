"""Serve inclusion proofs from a built tree on disk, without loading the tree.

The builder leaves every level as pair records in memory-mappable files (see
`por.builder._layout`). A proof is `height` reads of 160-byte records at computed offsets
plus a bisection over the sorted tags: microseconds of work, whatever the tree's size, and
only the touched pages are ever resident. `export_jsonl` writes every account's proof,
one per line, partition by partition, formatting each node's JSON once.

Fields of a store (`tree.json`): format, layout, snapshot_id, assets, height, leaf_count,
account_count, partitions, partition_height, root. `format` and `layout` must be exactly
this code's (`por.builder._layout.check_layout`), else `open` raises `StoreLayoutError`.
Guarantees: files are complete (the builder writes `tree.json` last). Updates: none; a new
snapshot is a new directory. Deletion: remove the directory.
"""

from __future__ import annotations

import bisect
import json
import mmap
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from por._hashing import HASH_BYTES, tag_hash
from por.builder._batch import AccountBatch
from por.builder._direct import StreamFile
from por.builder._layout import (
    FENCE_NAME,
    FENCE_STRIDE,
    META_NAME,
    ORDER_BYTES,
    SECTION_ALIGN,
    TOP_NAME,
    LayoutError,
    check_layout,
    level_offsets,
    order_offset,
    part_name,
    partition_header_bytes,
)
from por.errors import InputError
from por.model import Node
from por.operator.workers import map_forked

__all__ = ["PROOF_FORMAT", "ProofNotFoundError", "ProofStore", "StoreLayoutError"]

PROOF_FORMAT = "por-proof/1"
_ZERO16 = bytes(16)


class ProofNotFoundError(InputError, LookupError):
    """No leaf with that tag (or index) in this tree."""


class StoreLayoutError(InputError):
    """The directory is not a tree store in the layout this code reads (written by other
    code, or not a store at all): rebuild it rather than misread it."""


class _Tags(Sequence[bytes]):
    """The sorted tags of all partitions as one read-only sequence (for `bisect`)."""

    def __init__(self, store: ProofStore) -> None:
        self._store = store

    def __len__(self) -> int:
        return self._store.leaf_count

    def __getitem__(self, index: Any) -> Any:
        return self._store.tag_at(index)


class _Blob(Sequence[bytes]):
    """A bytes object of concatenated 32-byte tags as a sequence (for `bisect`)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data) // HASH_BYTES

    def __getitem__(self, index: Any) -> Any:
        return self._data[index * HASH_BYTES : (index + 1) * HASH_BYTES]


class ProofStore:
    """Read-only view of one built tree directory."""

    def __init__(self, out_dir: Path, meta: dict[str, Any]) -> None:
        try:
            check_layout(meta, str(out_dir))
        except LayoutError as exc:
            raise StoreLayoutError(str(exc)) from None
        self.out_dir = out_dir
        self.snapshot_id: str = meta["snapshot_id"]
        self.assets: tuple[str, ...] = tuple(meta["assets"])
        self.height: int = meta["height"]
        self.leaf_count: int = meta["leaf_count"]
        self.account_count: int = meta["account_count"]
        self.partitions: int = meta["partitions"]
        self.partition_height: int = meta["partition_height"]
        root = meta["root"]
        self.root = Node(
            bytes.fromhex(root["hash"]),
            tuple(int(v) for v in root["equity"]),
            tuple(int(v) for v in root["debt"]),
        )
        self._root_json: dict[str, Any] = {
            "hash": root["hash"],
            "equity": list(root["equity"]),
            "debt": list(root["debt"]),
        }
        n = len(self.assets)
        self.record_bytes = HASH_BYTES + 32 * n
        self.pair_bytes = 1 + 2 * self.record_bytes
        self._part_leaves = self.leaf_count // self.partitions
        self._part_offsets = level_offsets(
            self._part_leaves,
            self.partition_height,
            self.pair_bytes,
            partition_header_bytes(self._part_leaves),
            SECTION_ALIGN,
        )
        self._order_offset = order_offset(self._part_leaves)
        self._top_offsets = level_offsets(
            self.partitions, self.height - self.partition_height, self.pair_bytes
        )
        self._parts: dict[int, mmap.mmap] = {}
        self._top = self._map(out_dir / TOP_NAME)
        self._tags = _Tags(self)
        fences = (out_dir / FENCE_NAME).read_bytes()
        expected = -(-self.leaf_count // FENCE_STRIDE) * HASH_BYTES
        if len(fences) != expected:
            raise InputError(
                f"{out_dir}: {FENCE_NAME} has {len(fences)} bytes, expected {expected}"
            )
        self._fences = _Blob(fences)

    @classmethod
    def open(cls, out_dir: str | Path) -> ProofStore:
        path = Path(out_dir)
        try:
            meta = json.loads((path / META_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: no finished tree here ({exc})") from None
        if not isinstance(meta, dict):
            raise StoreLayoutError(f"{path}: not a tree store ({META_NAME} is not an object)")
        return cls(path, meta)

    def __enter__(self) -> ProofStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for mm in self._parts.values():
            mm.close()
        self._parts.clear()
        if self._top is not None:
            self._top.close()
            self._top = None

    # --- raw access -------------------------------------------------------------------

    @staticmethod
    def _map(path: Path) -> mmap.mmap | None:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size == 0:
                return None
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mmap, "MADV_RANDOM"):
            mm.madvise(mmap.MADV_RANDOM)  # a proof touches ~height scattered pages
        return mm

    def _part(self, index: int) -> mmap.mmap:
        mm = self._parts.get(index)
        if mm is None:
            mapped = self._map(self.out_dir / part_name(index))
            if mapped is None:
                raise InputError(f"{self.out_dir}: partition {index} is empty")
            self._parts[index] = mm = mapped
        return mm

    def tag_at(self, index: int) -> bytes:
        part, local = divmod(index, self._part_leaves)
        off = local * HASH_BYTES
        return self._part(part)[off : off + HASH_BYTES]

    def input_index(self, index: int) -> int:
        """The builder's input index of leaf `index` (>= account_count: a filler)."""
        part, local = divmod(index, self._part_leaves)
        off = self._order_offset + local * ORDER_BYTES
        return int.from_bytes(self._part(part)[off : off + ORDER_BYTES], "little")

    def _locate(self, level: int, index: int) -> tuple[mmap.mmap, int]:
        """The mapping and offset of node `index` at `level`."""
        pair, side = divmod(index, 2)
        start = 1 + side * self.record_bytes
        if level < self.partition_height:
            span = self._part_leaves >> level
            part, local = divmod(index, span)
            off = self._part_offsets[level] + (local >> 1) * self.pair_bytes + start
            return self._part(part), off
        if level < self.height and self._top is not None:
            off = self._top_offsets[level - self.partition_height] + pair * self.pair_bytes + start
            return self._top, off
        raise ProofNotFoundError(f"no node {index} at level {level} (height {self.height})")

    def record(self, level: int, index: int) -> bytes:
        """Node record `hash || enc(equity) || enc(debt)` of node `index` at `level`."""
        mm, off = self._locate(level, index)
        return mm[off : off + self.record_bytes]

    def _prefetch_path(self, index: int) -> None:
        """Ask the kernel for every page leaf `index`'s proof reads, without waiting.

        The maps are MADV_RANDOM and the builder wrote them with O_DIRECT, so a cold proof
        is `height` page faults served one after another; WILLNEED starts them all at once
        (an account's pieces are scattered over the tree: 16 pieces x 24 levels)."""
        _willneed(*self._locate(0, index), self.record_bytes)
        part, local = divmod(index, self._part_leaves)
        _willneed(self._part(part), local * HASH_BYTES, HASH_BYTES)
        for k in range(self.height):
            _willneed(*self._locate(k, (index >> k) ^ 1), self.record_bytes)

    def _prefetch_tags(self, tag: bytes) -> None:
        """Start reading the page of tags that `index_of_tag` will bisect for `tag`."""
        span = self._fence_span(tag)
        if span is not None:
            lo, hi = span
            part, local = divmod(lo, self._part_leaves)
            _willneed(self._part(part), local * HASH_BYTES, (hi - lo) * HASH_BYTES)

    def _fence_span(self, tag: bytes) -> tuple[int, int] | None:
        """The leaf range [lo, hi) the in-memory fences leave for `tag` (None: below all)."""
        fence = bisect.bisect_right(self._fences, tag) - 1
        if fence < 0:
            return None
        lo = fence * FENCE_STRIDE
        return lo, min(lo + FENCE_STRIDE, self.leaf_count)

    def leaf_block(self, part: int) -> tuple[bytes, NDArray[np.uint8]]:
        """Every leaf of partition `part` in tree order, in two sequential reads: their tags
        (32 bytes each, back to back) and their node records (`hash || enc(equity) ||
        enc(debt)`, one row of `record_bytes` each). Leaves are indices `part *
        leaf_count // partitions` onwards. For bulk readers (the published leaf list):
        one call per partition instead of two per leaf. The arrays are copies: they stay
        valid after the store is closed."""
        span = self._part_leaves
        if self.partition_height == 0:  # one leaf per partition: its record is a top node
            row = self.record(0, part)
            tags = self.tag_at(part)
            return tags, np.frombuffer(row, np.uint8).reshape(1, self.record_bytes)
        start = self._part_offsets[0]
        # plain sequential reads, not the mapping: the maps are MADV_RANDOM (no read-ahead),
        # and the builder wrote these files with O_DIRECT, so they are not in the cache
        with open(self.out_dir / part_name(part), "rb") as fh:
            fd = fh.fileno()
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            tags = _pread(fd, span * HASH_BYTES, 0)
            section = _pread(fd, (span // 2) * self.pair_bytes, start)
        pairs = np.frombuffer(section, np.uint8).reshape(-1, self.pair_bytes)
        records = pairs[:, 1:].reshape(span, self.record_bytes)
        return tags, records

    # --- lookups ----------------------------------------------------------------------

    def index_of_tag(self, tag: bytes) -> int:
        """Bisect the in-memory fences, then the one page of tags they point at."""
        span = self._fence_span(tag)
        if span is not None:
            i = bisect.bisect_left(self._tags, tag, *span)
            if i < self.leaf_count and self.tag_at(i) == tag:
                return i
        raise ProofNotFoundError(f"no leaf with tag {tag.hex()} in this tree")

    def index_of_account(self, account_id: str, nonce: bytes) -> int:
        return self.index_of_tag(tag_hash(self.snapshot_id, nonce, account_id))

    # --- proofs -----------------------------------------------------------------------

    def _node_json(self, rec: bytes) -> dict[str, Any]:
        n = len(self.assets)
        amounts = [_amount(rec, HASH_BYTES + 16 * k) for k in range(2 * n)]
        return {"hash": rec[:HASH_BYTES].hex(), "equity": amounts[:n], "debt": amounts[n:]}

    def proof(
        self, index: int, account_id: str | None = None, nonce: bytes | None = None
    ) -> dict[str, Any]:
        """The spec's proof object for leaf `index` (with the account's id and nonce if given)."""
        if not 0 <= index < self.leaf_count:
            raise ProofNotFoundError(f"leaf index must be in [0, {self.leaf_count}), got {index}")
        result: dict[str, Any] = {
            "format": PROOF_FORMAT,
            "snapshot_id": self.snapshot_id,
            "assets": list(self.assets),
        }
        if account_id is not None and nonce is not None:
            result["account_id"] = account_id
            result["nonce"] = nonce.hex()
        leaf = self._node_json(self.record(0, index))
        result["leaf"] = {
            "tag": self.tag_at(index).hex(),
            "index": index,
            "equity": leaf["equity"],
            "debt": leaf["debt"],
        }
        result["path"] = [
            self._node_json(self.record(k, (index >> k) ^ 1)) for k in range(self.height)
        ]
        result["root"] = {
            "hash": self._root_json["hash"],
            "equity": list(self._root_json["equity"]),
            "debt": list(self._root_json["debt"]),
        }
        return result

    def account_proof(self, account_id: str, nonce: bytes) -> dict[str, Any]:
        """The account's own copy: looked up by recomputing its tag from id and nonce."""
        return self.proof(self.index_of_account(account_id, nonce), account_id, nonce)

    def account_proofs(self, account_id: str, nonces: Sequence[bytes]) -> list[dict[str, Any]]:
        """One proof per piece (`account_proof` of each nonce), the pieces' pages read in
        parallel: first every tag page, then every path page, then the proofs."""
        tags = [tag_hash(self.snapshot_id, nonce, account_id) for nonce in nonces]
        for tag in tags:
            self._prefetch_tags(tag)
        indices = [self.index_of_tag(tag) for tag in tags]
        for index in indices:
            self._prefetch_path(index)
        return [
            self.proof(index, account_id, nonce)
            for index, nonce in zip(indices, nonces, strict=True)
        ]

    # --- bulk export ------------------------------------------------------------------

    def export_jsonl(self, out: IO[str], batch: AccountBatch | None = None) -> int:
        """Write every account's proof, one JSON object per line, in leaf order.

        With the build's `batch`, each line is the account's own copy (id and nonce);
        without, the public form. Fillers are skipped. Returns the number of lines.
        Memory: one partition's node fragments at a time.
        """
        written = 0
        for p in range(self.partitions):
            for text, count in self.partition_lines(p, batch):
                out.write(text)
                written += count
        return written

    def export_dir(
        self, dest: str | Path, batch: AccountBatch | None = None, workers: int | None = None
    ) -> int:
        """`export_jsonl` split into `proofs-NNNNN.jsonl`, one per partition, written by
        `workers` forked processes (one per core by default). Returns the line count."""
        target = Path(dest)
        target.mkdir(parents=True, exist_ok=True)
        _EXPORT.update(store_dir=self.out_dir, batch=batch, dest=target)
        try:
            return sum(map_forked(_export_partition, self.partitions, workers))
        finally:
            _EXPORT.clear()

    def partition_lines(
        self, part: int, batch: AccountBatch | None = None, chunk: int = 4096
    ) -> Iterator[tuple[str, int]]:
        """Proof lines of the accounts of partition `part`, `chunk` leaves at a time:
        (text, number of lines).

        Each node's JSON fragment is formatted once (hex and decimals for a whole level
        at a time) and shared by every proof that passes through it; each line is
        assembled by a single join.
        """
        b = self.partition_height
        span = self._part_leaves
        raw = np.fromfile(self.out_dir / part_name(part), dtype=np.uint8)
        tags_hex = raw[: span * HASH_BYTES].tobytes().hex()
        order = raw[self._order_offset : self._order_offset + span * ORDER_BYTES].view("<u4")
        levels: list[list[str]] = []
        leaf_amounts: list[str] = []
        for k in range(b):
            nodes = span >> k
            start = self._part_offsets[k]
            section = raw[start : start + (nodes // 2) * self.pair_bytes]
            records = section.reshape(-1, self.pair_bytes)[:, 1:].reshape(nodes, -1)
            amounts = self._amount_texts(records)
            if k == 0:
                leaf_amounts = amounts
            hashes = records[:, :HASH_BYTES].tobytes().hex()
            levels.append(
                [
                    '{"hash":"' + hashes[64 * i : 64 * i + 64] + '",' + amounts[i] + "}"
                    for i in range(nodes)
                ]
            )
        del raw
        upper = [
            self._fragment(self.record(k, (part >> (k - b)) ^ 1)) for k in range(b, self.height)
        ]
        root = json.dumps(self._root_json, separators=(",", ":"))
        tail = ("," + ",".join(upper) if upper else "") + '],"root":' + root + "}\n"
        head = (
            '{"format":"'
            + PROOF_FORMAT
            + '","snapshot_id":'
            + json.dumps(self.snapshot_id, ensure_ascii=False)
            + ',"assets":'
            + json.dumps(list(self.assets), ensure_ascii=False)
        )
        accounts = self.account_count
        first = part * span
        inputs = order.tolist()
        for lo in range(0, span, chunk):
            parts: list[str] = []
            add = parts.append
            count = 0
            for j in range(lo, min(span, lo + chunk)):
                input_index = inputs[j]
                if input_index >= accounts:
                    continue
                count += 1
                add(head)
                if batch is not None:
                    add(',"account_id":')
                    add(json.dumps(batch.account_id(input_index), ensure_ascii=False))
                    add(',"nonce":"')
                    add(batch.nonce(input_index).hex())
                    add('"')
                add(',"leaf":{"tag":"')
                add(tags_hex[64 * j : 64 * j + 64])
                add('","index":')
                add(str(first + j))
                add(",")
                add(leaf_amounts[j])
                add('},"path":[')
                add(",".join([levels[k][(j >> k) ^ 1] for k in range(b)]))
                add(tail)
            yield "".join(parts), count

    def _amount_texts(self, records: NDArray[np.uint8]) -> list[str]:
        """`"equity":[...],"debt":[...]` of every record of a level (vectorised decode)."""
        n = len(self.assets)
        limbs = np.ascontiguousarray(records[:, HASH_BYTES:]).view(">u8").reshape(-1, 2 * n, 2)
        lo = limbs[:, :, 1].astype(np.uint64).tolist()
        hi = limbs[:, :, 0]
        big = np.argwhere(hi != 0).tolist()
        for i, k in big:
            lo[i][k] = (int(hi[i, k]) << 64) | lo[i][k]
        out = []
        for row in lo:
            text = [str(v) for v in row]
            out.append(
                '"equity":["' + '","'.join(text[:n]) + '"],"debt":["' + '","'.join(text[n:]) + '"]'
            )
        return out

    def _amounts_text(self, rec: bytes) -> str:
        n = len(self.assets)
        values = ['"' + _amount(rec, HASH_BYTES + 16 * k) + '"' for k in range(2 * n)]
        return '"equity":[' + ",".join(values[:n]) + '],"debt":[' + ",".join(values[n:]) + "]"

    def _fragment(self, rec: bytes) -> str:
        return '{"hash":"' + rec[:HASH_BYTES].hex() + '",' + self._amounts_text(rec) + "}"


_EXPORT: dict[str, Any] = {}


def _willneed(mm: mmap.mmap, offset: int, size: int) -> None:
    """MADV_WILLNEED over the pages of [offset, offset + size) (aligned down to a page)."""
    if not hasattr(mmap, "MADV_WILLNEED"):
        return
    start = offset - offset % mmap.PAGESIZE
    mm.madvise(mmap.MADV_WILLNEED, start, offset + size - start)


def _pread(fd: int, size: int, offset: int) -> bytes:
    """Exactly `size` bytes at `offset` (a short read of a truncated file is an error)."""
    parts = []
    while size > 0:
        chunk = os.pread(fd, min(size, 1 << 30), offset)
        if not chunk:
            raise InputError(f"tree file ends early at byte {offset}")
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def _export_partition(part: int) -> int:
    """One partition's lines to its own file (runs in a forked export worker)."""
    dest: Path = _EXPORT["dest"]
    final = dest / f"proofs-{part:05d}.jsonl"
    tmp = final.with_name(final.name + ".tmp")
    count = 0
    with ProofStore.open(_EXPORT["store_dir"]) as store, StreamFile(tmp) as fh:
        for text, lines in store.partition_lines(part, _EXPORT["batch"]):
            fh.write(text.encode("utf-8"))
            count += lines
    os.replace(tmp, final)
    return count


def _amount(rec: bytes, offset: int) -> str:
    raw = rec[offset : offset + 16]
    if raw == _ZERO16:
        return "0"
    return str(int.from_bytes(raw, "big"))
