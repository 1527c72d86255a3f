"""`por verify reserves`' inputs and first check: a bundle's reserves.json and manifest.

The edge for the reserves re-read (`por.audit.reserves.verify_reserves` decides): the two
files read (bounded) and parsed, the pinned key's check that reserves.json is the file the
signed manifest lists, and the auditor's asset registry. Unusable input is an
`InputError` (exit 2); a manifest that does not parse or verify a `ManifestError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from por._input import load_json, read_bounded
from por.audit.bundle import Check
from por.errors import InputError
from por.manifest import Manifest, parse_manifest_bytes, verify_manifest

if TYPE_CHECKING:
    from por.reserves.registry import AssetRegistry

__all__ = [
    "ReservesBundle",
    "pinned_asset_registry",
    "read_reserves_bundle",
    "signed_reserves_check",
    "trusted_registry_description",
]


@dataclass(frozen=True, slots=True)
class ReservesBundle:
    """A bundle's reserves.json (as read and as parsed) and its manifest (as signed JSON and
    as parsed)."""

    reserves: dict[str, Any]
    reserves_raw: bytes
    document: Any
    manifest: Manifest


def read_reserves_bundle(directory: str | Path) -> ReservesBundle:
    """reserves.json (a JSON object) and manifest.json of a bundle directory."""
    base = Path(directory)
    raw = read_bounded(base / "reserves.json")
    reserves = load_json(raw, "reserves.json")
    if not isinstance(reserves, dict):
        raise InputError(f"{base / 'reserves.json'}: not a por-reserves/1 file")
    manifest_raw = read_bounded(base / "manifest.json")
    document = load_json(manifest_raw, "manifest.json")
    return ReservesBundle(reserves, raw, document, parse_manifest_bytes(manifest_raw))


def signed_reserves_check(bundle: ReservesBundle, key: bytes) -> Check:
    """The "manifest" check: the manifest verifies under the pinned key (`ManifestError`
    if not) and lists reserves.json's SHA-256."""
    verify_manifest(bundle.manifest, key)
    document = bundle.document
    listing = document.get("bundle") if isinstance(document, dict) else None
    listed = listing.get("files") if isinstance(listing, dict) else None
    entry = listed.get("reserves.json") if isinstance(listed, dict) else None
    want = entry.get("sha256") if isinstance(entry, dict) else None
    ok = want == hashlib.sha256(bundle.reserves_raw).hexdigest()
    detail = (
        "reserves.json is the signed file"
        if ok
        else "reserves.json's SHA-256 is not the one the signed manifest lists"
    )
    return Check("manifest", "pass" if ok else "fail", detail)


def pinned_asset_registry(path: str | None) -> AssetRegistry | None:
    """The auditor's pinned registry file (None without one); unreadable: `InputError`."""
    if path is None:
        return None
    from por.reserves.errors import ReservesError
    from por.reserves.registry import load_asset_registry

    try:
        return load_asset_registry(path)
    except ReservesError as exc:
        raise InputError(str(exc)) from None


def trusted_registry_description(document: Any) -> str:
    """What the asset registry the manifest signs says ("" when it signs none), for the
    note that it was trusted because none was pinned."""
    from por.reserves.errors import ReservesError
    from por.reserves.registry import registry_from_json

    raw = document.get("reserve_assets") if isinstance(document, dict) else None
    try:
        return registry_from_json(raw, "manifest").describe() if raw is not None else ""
    except ReservesError:
        return "(malformed)"
