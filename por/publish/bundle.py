"""The public bundle of one published hour: what anyone downloads to check it.

Layout of `<bundles>/<name>/` (name = snapshot id with ':' -> '-'):

    manifest.json        `por-manifest/1` (spec) plus our signed fields, see below
    liabilities.jsonl    every leaf in tree order: {"debt", "equity", "tag"} (leaf list
                         mode public)
    liabilities.jsonl.age  the same list encrypted with age to the auditors' X25519 keys
                         (mode auditors); neither file in mode none (`por.leaflist`)
    reserves.json        wallets' balances at the pinned block/slot, ownership signatures
                         (present when a wallet registry is configured)
    reconciliation.json  liabilities against reserves per asset (`por-reconciliation/1`)
    index.html           a human page (no scripts, no external requests)

No file of a bundle holds an account id or a nonce (tested by scanning every file).

Manifest fields of ours (all covered by the signature; canonical JSON has no booleans or
nulls, so absent means "none"):

    "bundle":   {"format": "por-bundle/1",
                 "files": {"<name>": {"sha256": "<64 hex>", "bytes": N}, ...}}
                 -- every file of the bundle but manifest.json
    "cut":      {"seq": N, "time": "...Z"}   -- last journal sequence in the snapshot and
                 its ledger time (time absent when the ledger had no clock yet)
    "leaf_count": N                          -- leaves of the tree, fillers included
    "leaf_list": {"mode": "public", "file": "liabilities.jsonl"}
               | {"mode": "auditors", "file": "liabilities.jsonl.age",
                  "recipients": ["age1...", ...]}          -- sorted, unique
               | {"mode": "none"}
                 -- how the leaf list is published (`por.leaflist`); absent in bundles
                 published before it (then: public iff liabilities.jsonl is listed)
    "reserves": [{"chain", "block"|"slot", "hash", "chain_id", "time", "requested_at",
                  "late_s"}, ...]
                 -- one pin per chain; late_s = seconds the reading is after the hour;
                 chain_id: eip155:<chain id> | solana:<genesis hash>, bound by every
                 ownership message
    "reserve_assets": {"<chain>": {"<symbol>": {"kind": "native"|"erc20"|"spl",
                                                "decimals": N, "contract": "..."}}}
                 -- the asset registry: what holds each reserve asset on each chain
                 (contract absent for native coins; `por.reserves.registry`); absent
                 when no reserves were read
    "late":     ["solana", ...]              -- chains read more than `late_after_s` after
                 the hour (a catch-up: Solana cannot be read in the past); absent if none
    "reconciliation": "PASS" | "FAIL"
    "published_at": "...Z"                   -- publisher's clock when it was signed
    "previous": {"snapshot_id", "manifest_sha256",
                 "anchor": {"chain": "ethereum", "chain_id", "contract", "tx", "block"}}
                 -- the hour published before this one, and its on-chain anchor
                 (absent for the first hour; "anchor" absent when anchoring is off)

`manifest.json` holds the signed manifest as JSON (keys sorted, one-space indent, UTF-8,
final newline); the anchor's manifestHash is SHA-256 of exactly these bytes.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from por._fields import node_json
from por.errors import PorError
from por.leaflist import CLEAR_NAME, SEALED_NAME, LeafListPolicy, seal_file
from por.manifest import AssetInfo, Manifest, parse_manifest_bytes, verify_manifest
from por.model import Node
from por.publish._fsio import fsync_dir, fsync_file, link_or_copy, sha256_file
from por.publish.errors import BundleError
from por.publish.facts import FileDigest, PreviousPublication, SnapshotFacts
from por.publish.page import bundle_page

__all__ = [
    "BUNDLE_FORMAT",
    "COMPARED_FIELDS",
    "INDEX_NAME",
    "LIABILITIES_NAME",
    "MANIFEST_NAME",
    "RECONCILIATION_NAME",
    "RESERVES_NAME",
    "SEALED_LIABILITIES_NAME",
    "bundle_name",
    "differences",
    "manifest_extras",
    "manifest_file_bytes",
    "read_snapshot_facts",
    "verify_bundle",
    "write_bundle_files",
]

BUNDLE_FORMAT = "por-bundle/1"
MANIFEST_NAME = "manifest.json"
LIABILITIES_NAME = CLEAR_NAME
SEALED_LIABILITIES_NAME = SEALED_NAME
RESERVES_NAME = "reserves.json"
RECONCILIATION_NAME = "reconciliation.json"
INDEX_NAME = "index.html"
BUNDLE_FILES = (
    LIABILITIES_NAME,
    SEALED_LIABILITIES_NAME,
    RESERVES_NAME,
    RECONCILIATION_NAME,
    INDEX_NAME,
)
# fields a re-run recomputes identically from the ledger (given the same snapshot secret)
COMPARED_FIELDS = ("snapshot_id", "assets", "tree", "cut", "leaf_count")


def bundle_name(snapshot_id: str) -> str:
    return snapshot_id.replace(":", "-")


def _parse_iso(text: str) -> int:
    return int(datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def read_snapshot_facts(snapshot_dir: Path) -> SnapshotFacts:
    """Parse `<snapshot>/public/snapshot.json` written by `por.snapshot.take_snapshot`."""
    public = snapshot_dir / "public"
    try:
        doc = json.loads((public / "snapshot.json").read_text(encoding="utf-8"))
        tree = doc["tree"]
        root = tree["root"]
        return SnapshotFacts(
            snapshot_id=str(doc["snapshot_id"]),
            assets=tuple(AssetInfo(str(a["symbol"]), int(a["decimals"])) for a in doc["assets"]),
            cut_seq=int(doc["cut"]["seq"]),
            cut_time=doc["cut"]["time"],
            height=int(tree["height"]),
            leaf_count=int(tree["leaf_count"]),
            root=Node(
                bytes.fromhex(root["hash"]),
                tuple(int(v) for v in root["equity"]),
                tuple(int(v) for v in root["debt"]),
            ),
            pins=tuple(doc["reserves"] or ()),
            status=str(doc["status"]),
            public_dir=public,
            reserve_assets=doc.get("reserve_assets") or None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{snapshot_dir}: not a finished snapshot: {exc}") from None


def _pin_json(pin: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in pin.items() if v is not None and not isinstance(v, bool)}
    if "time" in pin and pin.get("requested_at"):
        out["late_s"] = max(0, _parse_iso(pin["time"]) - _parse_iso(pin["requested_at"]))
    return out


def write_bundle_files(
    facts: SnapshotFacts,
    directory: Path,
    *,
    leaf_list: LeafListPolicy,
    previous: PreviousPublication | None,
    published_at: str,
) -> dict[str, FileDigest]:
    """Put every file but the manifest into `directory` (fsynced); return their digests.

    The leaf list goes in as `leaf_list` says: linked in clear, encrypted for the auditors
    (streamed from the snapshot's leaves.jsonl, never a second clear copy), or left out.
    """
    directory.mkdir(parents=True, exist_ok=True)
    public = facts.public_dir
    names: list[str] = []
    if leaf_list.file is not None:
        src = public / "leaves.jsonl"
        if not src.exists():
            raise BundleError(f"{src}: missing: the snapshot was taken without its leaf list")
        if leaf_list.mode == "public":
            link_or_copy(src, directory / leaf_list.file)
        else:
            seal_file(src, directory / leaf_list.file, leaf_list.recipients)
            fsync_file(directory / leaf_list.file)
        names.append(leaf_list.file)
    if (public / "reserves.json").exists():
        link_or_copy(public / "reserves.json", directory / RESERVES_NAME)
        names.append(RESERVES_NAME)
    link_or_copy(public / "reconciliation.json", directory / RECONCILIATION_NAME)
    names.append(RECONCILIATION_NAME)
    digests = {name: FileDigest(*sha256_file(directory / name)) for name in names}
    page = bundle_page(facts, digests, previous, published_at, leaf_list).encode("utf-8")
    (directory / INDEX_NAME).write_bytes(page)
    fsync_file(directory / INDEX_NAME)
    digests[INDEX_NAME] = FileDigest(*sha256_file(directory / INDEX_NAME))
    fsync_dir(directory)
    return dict(sorted(digests.items()))


def manifest_extras(
    facts: SnapshotFacts,
    files: Mapping[str, FileDigest],
    previous: PreviousPublication | None,
    published_at: str,
    late_after_s: int,
    leaf_list: LeafListPolicy,
) -> dict[str, Any]:
    """Our signed fields (see the module docstring)."""
    cut: dict[str, Any] = {"seq": facts.cut_seq}
    if facts.cut_time is not None:
        cut["time"] = facts.cut_time
    pins = [_pin_json(p) for p in facts.pins]
    extras: dict[str, Any] = {
        "bundle": {
            "format": BUNDLE_FORMAT,
            "files": {name: d.to_json() for name, d in sorted(files.items())},
        },
        "cut": cut,
        "leaf_count": facts.leaf_count,
        "leaf_list": leaf_list.to_json(),
        "reserves": pins,
        "reconciliation": facts.status,
        "published_at": published_at,
    }
    late = sorted(str(p["chain"]) for p in pins if p.get("late_s", 0) > late_after_s)
    if late:
        extras["late"] = late
    if facts.reserve_assets is not None:
        extras["reserve_assets"] = dict(facts.reserve_assets)
    if previous is not None:
        extras["previous"] = previous.to_json()
    return extras


def manifest_file_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The bytes of manifest.json (the anchor hashes exactly these)."""
    return (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def differences(published: Mapping[str, Any], recomputed: Mapping[str, Any]) -> list[str]:
    """The fields of COMPARED_FIELDS whose values differ (tree root, cut, ...)."""
    return [f for f in COMPARED_FIELDS if published.get(f) != recomputed.get(f)]


def compared_view(facts: SnapshotFacts) -> dict[str, Any]:
    """A recomputed snapshot's values of COMPARED_FIELDS, as a manifest states them."""
    cut: dict[str, Any] = {"seq": facts.cut_seq}
    if facts.cut_time is not None:
        cut["time"] = facts.cut_time
    return {
        "snapshot_id": facts.snapshot_id,
        "assets": [{"symbol": a.symbol, "decimals": a.decimals} for a in facts.assets],
        "tree": {"height": facts.height, "root": node_json(facts.root)},
        "cut": cut,
        "leaf_count": facts.leaf_count,
    }


def verify_bundle(directory: Path, public_key: bytes | None = None) -> Manifest:
    """Check a bundle on disk: the manifest's signature (pinned key if given), and every
    file listed with its exact SHA-256 and size, and no file that is not listed.

    Raises BundleError naming the first problem; returns the parsed manifest.
    """
    raw_path = directory / MANIFEST_NAME
    try:
        raw = raw_path.read_bytes()
        manifest = parse_manifest_bytes(raw)
        verify_manifest(manifest, public_key)
        doc = json.loads(raw)
    except OSError as exc:
        raise BundleError(f"{raw_path}: {exc.strerror or exc}") from None
    except PorError as exc:
        raise BundleError(f"{raw_path}: {exc}") from None
    bundle = doc.get("bundle")
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{raw_path}: expected a 'bundle' field of format {BUNDLE_FORMAT}")
    files = bundle.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{raw_path}: bundle.files: expected an object")
    present = sorted(p for p in os.listdir(directory) if p != MANIFEST_NAME)
    if present != sorted(files):
        raise BundleError(
            f"{directory}: files {present} differ from the manifest's list {sorted(files)}"
        )
    for name, want in files.items():
        digest, size = sha256_file(directory / name)
        if not isinstance(want, dict) or not hmac.compare_digest(digest, str(want.get("sha256"))):
            raise BundleError(f"{directory / name}: SHA-256 {digest} differs from the manifest's")
        if size != want.get("bytes"):
            raise BundleError(f"{directory / name}: expected {want.get('bytes')} bytes, got {size}")
    return manifest


def bundle_files(directory: Path) -> Sequence[str]:
    return sorted(os.listdir(directory))
