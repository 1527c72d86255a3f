"""Consistency and inclusion proofs as values, in the JSON form the vectors use.

A consistency proof is `{"first": m, "second": n, "path": ["<64 hex>", ...]}`: RFC 9162
section 2.1.4 between the log of size m and the log of size n (`log.consistency` in the
vectors). An inclusion proof is `{"index": i, "size": n, "leaf_hash": ..., "path": [...]}`
(section 2.1.3). Verification needs the two roots (or the root), which come from signed
heads or manifests, never from the proof itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from por.log._rfc9162 import verify_consistency, verify_inclusion
from por.log.errors import LogProofError

__all__ = ["ConsistencyProof", "InclusionProof"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _size(doc: Mapping[str, Any], key: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LogProofError(f"{key}: expected a non-negative integer")
    return value


def _hash(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise LogProofError(f"{where}: expected 64 lowercase hex characters")
    return bytes.fromhex(value)


def _path(doc: Mapping[str, Any]) -> tuple[bytes, ...]:
    path = doc.get("path")
    if not isinstance(path, list):
        raise LogProofError("path: expected a list of hashes")
    return tuple(_hash(h, f"path[{i}]") for i, h in enumerate(path))


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the log of size `second` extends the log of size `first`."""

    first: int
    second: int
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "second": self.second, "path": [h.hex() for h in self.path]}

    @classmethod
    def from_json(cls, doc: Any) -> ConsistencyProof:
        if not isinstance(doc, dict):
            raise LogProofError("consistency proof: expected an object with first, second, path")
        return cls(_size(doc, "first"), _size(doc, "second"), _path(doc))

    def verify(self, first_root: bytes, second_root: bytes) -> None:
        """Raises LogProofError unless both roots belong to one append-only log."""
        verify_consistency(self.first, self.second, first_root, second_root, self.path)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that the leaf `leaf_hash` is entry `index` of the log of size `size`."""

    index: int
    size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "size": self.size,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_json(cls, doc: Any) -> InclusionProof:
        if not isinstance(doc, dict):
            raise LogProofError("inclusion proof: expected an object with index, size, path")
        return cls(
            _size(doc, "index"),
            _size(doc, "size"),
            _hash(doc.get("leaf_hash"), "leaf_hash"),
            _path(doc),
        )

    def verify(self, root: bytes) -> None:
        verify_inclusion(self.index, self.size, self.leaf_hash, self.path, root)
