"""The values a bundle is made from: a finished snapshot's facts, each file's digest, and
the hour published before. Plain records, so the bundle writer and its page share them
without importing each other."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.manifest import AssetInfo
from por.model import Node

__all__ = ["FileDigest", "PreviousPublication", "SnapshotFacts"]


@dataclass(frozen=True, slots=True)
class FileDigest:
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.size}


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    """What the publisher needs from a finished snapshot (its public/snapshot.json)."""

    snapshot_id: str
    assets: tuple[AssetInfo, ...]
    cut_seq: int
    cut_time: str | None
    height: int
    leaf_count: int
    root: Node
    pins: tuple[Mapping[str, Any], ...]
    status: str
    public_dir: Path
    reserve_assets: Mapping[str, Any] | None = None

    @property
    def reconciliation(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.public_dir / "reconciliation.json").read_text(encoding="utf-8")
        )
        return data


@dataclass(frozen=True, slots=True)
class PreviousPublication:
    """The hour published before this one, as the next manifest names it."""

    snapshot_id: str
    manifest_sha256: str
    anchor: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "snapshot_id": self.snapshot_id,
            "manifest_sha256": self.manifest_sha256,
        }
        if self.anchor is not None:
            out["anchor"] = dict(self.anchor)
        return out
