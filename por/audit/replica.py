"""A verifier's own copy of the transparency log, rebuilt from the published entries.

The site publishes every entry (`log/entries.jsonl`, canonical JSON per line). From them
an auditor recomputes every root the exchange ever signed (`root_at(size)`), and every
RFC 9162 consistency or inclusion proof, instead of trusting proofs the exchange hands
out. Memory: the perfect-subtree hashes of every level, about 64 bytes per entry.

Record `LogReplica`
  Fields: entries (canonical bytes, log order), snapshot ids -> index, subtree hashes.
  Guarantees: every entry is canonical (`por.log.parse_entry`); no snapshot id appears
    twice (two entries for one hour are two roots for it: refused).
  Updates: `append` only, in log order. Deletion: none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from por.audit.errors import LogMismatchError
from por.log import (
    EMPTY_ROOT,
    ConsistencyProof,
    EntryError,
    InclusionProof,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    mth,
    parse_entry,
)
from por.log import node_hash as log_node_hash

__all__ = ["MAX_LOG_ENTRIES", "LogReplica", "read_entries_file"]

MAX_LOG_ENTRIES = 1 << 24  # 16M hours is 1,900 years of hourly snapshots


class LogReplica:
    """The log rebuilt from its entries; see the module docstring."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.index_of: dict[str, int] = {}
        self._levels: list[list[bytes]] = [[]]  # _levels[l][i] = hash of leaves i*2^l..

    @classmethod
    def from_entries(cls, entries: Iterable[bytes], what: str = "entries") -> LogReplica:
        replica = cls()
        for number, entry in enumerate(entries, start=1):
            replica.append(entry, f"{what} line {number}")
        return replica

    @property
    def size(self) -> int:
        return len(self.entries)

    def append(self, entry: bytes, where: str = "entry") -> None:
        if len(self.entries) >= MAX_LOG_ENTRIES:
            raise LogMismatchError(f"log: more than {MAX_LOG_ENTRIES} entries")
        try:
            parsed = parse_entry(entry)
        except EntryError as exc:
            raise LogMismatchError(f"{where}: {exc}") from None
        earlier = self.index_of.get(parsed.snapshot_id)
        if earlier is not None:
            raise LogMismatchError(
                f"{where}: a second entry for snapshot {parsed.snapshot_id!r}"
                f" (entry {earlier} is the first): two roots for one hour"
            )
        self.index_of[parsed.snapshot_id] = len(self.entries)
        self.entries.append(entry)
        digest, level = leaf_hash(entry), 0
        while True:
            row = self._levels[level]
            row.append(digest)
            if len(row) % 2:
                break
            digest = log_node_hash(row[-2], row[-1])
            level += 1
            if level == len(self._levels):
                self._levels.append([])

    def _fetch(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {(level, index): self._levels[level][index] for level, index in keys}

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise LogMismatchError(
                f"log of size {size} asked for, the published entries hold {self.size}"
            )

    def root_at(self, size: int) -> bytes:
        """RFC 9162 MTH of the first `size` entries."""
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else mth(size, self._fetch)

    def consistency(self, first: int, second: int) -> ConsistencyProof:
        """The RFC 9162 consistency proof between two sizes, computed here."""
        self._check_size(second)
        return ConsistencyProof(first, second, tuple(consistency_proof(first, second, self._fetch)))

    def inclusion(self, index: int, size: int) -> InclusionProof:
        self._check_size(size)
        path = tuple(inclusion_proof(index, size, self._fetch))
        return InclusionProof(index, size, leaf_hash(self.entries[index]), path)


def read_entries_file(path: str, limit_lines: int = MAX_LOG_ENTRIES) -> LogReplica:
    """The log rebuilt from a local `entries.jsonl` (one canonical entry per line)."""
    from por.audit.errors import AuditInputError
    from por.log.entry import MAX_ENTRY_BYTES

    replica = LogReplica()
    try:
        with open(path, "rb") as stream:
            number = 0
            while line := stream.readline(MAX_ENTRY_BYTES + 2):
                number += 1
                if len(line) > MAX_ENTRY_BYTES + 1:
                    raise LogMismatchError(f"{path} line {number}: entry too large")
                if number > limit_lines:
                    raise LogMismatchError(f"{path}: more than {limit_lines} entries")
                replica.append(line.rstrip(b"\n"), f"{path} line {number}")
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return replica
