"""The log entry of one snapshot: what the transparency log commits to, per the spec.

Fields: `snapshot_id` (string), `assets` (the manifest's asset objects, in vector order)
and `root` (the manifest's `tree.root`: hash and the equity and debt sums).
Guarantees: the entry is the canonical JSON of exactly these three keys, so its bytes and
hence its leaf hash are the same in every implementation. Updates and deletion: none; a
wrong entry stays in the log and is superseded by the next hour's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from por._canonical import CanonicalJSONError, canonical_json
from por._hashing import AMOUNT_LIMIT
from por._input import load_json
from por.errors import NotJSONError
from por.log.errors import EntryError

__all__ = [
    "MAX_ENTRY_BYTES",
    "EntryError",
    "LogEntry",
    "entry_from_manifest",
    "parse_entry",
]

MAX_ENTRY_BYTES = 1 << 20  # an entry is a few hundred bytes per asset; 1 MiB is a hard cap
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AMOUNT = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A parsed, validated entry; `data` is its exact canonical bytes (what is hashed)."""

    snapshot_id: str
    assets: tuple[Mapping[str, Any], ...]
    root_hash: str
    data: bytes


def _amounts(value: Any, count: int, where: str) -> None:
    if not isinstance(value, list) or len(value) != count:
        raise EntryError(f"{where}: expected a list of {count} amounts")
    for i, amount in enumerate(value):
        if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount):
            raise EntryError(f"{where}[{i}]: expected a canonical decimal string")
        if int(amount) >= AMOUNT_LIMIT:
            raise EntryError(f"{where}[{i}]: amount is not below 2^128")


def _validated(snapshot_id: Any, assets: Any, root: Any) -> dict[str, Any]:
    if not isinstance(snapshot_id, str) or not snapshot_id:
        raise EntryError("snapshot_id: expected a non-empty string")
    if not isinstance(assets, list) or not assets:
        raise EntryError("assets: expected a non-empty list of asset objects")
    for i, asset in enumerate(assets):
        if not isinstance(asset, dict) or not isinstance(asset.get("symbol"), str):
            raise EntryError(f"assets[{i}]: expected an object with a string symbol")
    if not isinstance(root, dict):
        raise EntryError("root: expected an object with hash, equity and debt")
    if set(root) != {"hash", "equity", "debt"}:
        raise EntryError(f"root: expected keys debt, equity, hash; got {', '.join(sorted(root))}")
    if not isinstance(root["hash"], str) or not _HEX64.fullmatch(root["hash"]):
        raise EntryError("root.hash: expected 64 lowercase hex characters")
    _amounts(root["equity"], len(assets), "root.equity")
    _amounts(root["debt"], len(assets), "root.debt")
    return {"snapshot_id": snapshot_id, "assets": assets, "root": root}


def entry_from_manifest(manifest: Mapping[str, Any]) -> bytes:
    """The entry's canonical bytes for a manifest (signed or not: only three fields are used)."""
    tree = manifest.get("tree")
    if not isinstance(tree, dict):
        raise EntryError("manifest.tree: expected an object with the tree's root")
    value = _validated(manifest.get("snapshot_id"), manifest.get("assets"), tree.get("root"))
    try:
        return canonical_json(value)
    except CanonicalJSONError as exc:
        raise EntryError(f"manifest: {exc}") from None


def parse_entry(data: bytes) -> LogEntry:
    """Check that `data` is an entry in canonical form (as stored or published)."""
    if len(data) > MAX_ENTRY_BYTES:
        raise EntryError(f"entry too large: {len(data)} bytes, limit {MAX_ENTRY_BYTES}")
    try:  # bounded: huge integers and deep nesting become markers canonical JSON refuses
        value = load_json(data, "entry")
    except NotJSONError as exc:
        raise EntryError(f"entry is not UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict) or set(value) != {"snapshot_id", "assets", "root"}:
        raise EntryError("entry: expected exactly the keys assets, root, snapshot_id")
    checked = _validated(value["snapshot_id"], value["assets"], value["root"])
    try:
        canonical = canonical_json(checked)
    except CanonicalJSONError as exc:
        raise EntryError(f"entry: {exc}") from None
    if canonical != data:
        raise EntryError("entry is not in canonical JSON form (RFC 8785)")
    return LogEntry(
        snapshot_id=checked["snapshot_id"],
        assets=tuple(checked["assets"]),
        root_hash=checked["root"]["hash"],
        data=data,
    )
