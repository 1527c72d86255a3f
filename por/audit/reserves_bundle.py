"""`por verify reserves` from a bundle directory: its inputs, its first check, the run.

The edge for the reserves re-read (`por.audit.reserves.verify_reserves` decides): the two
files read (bounded) and parsed, the pinned key's check that reserves.json is the file the
signed manifest lists, and the auditor's asset registry; `verify_reserves_dir` runs them
in order and returns every check in one report. Unusable input is an `InputError`
(exit 2); a manifest that does not parse or verify a `ManifestError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from por._input import load_json, read_bounded
from por.audit.bundle import Check
from por.audit.reserves import verify_reserves
from por.errors import InputError
from por.manifest import Manifest, parse_manifest_bytes, verify_manifest

if TYPE_CHECKING:
    from por.reserves.attestation import AttestationPolicy
    from por.reserves.registry import AssetRegistry

__all__ = [
    "ReservesBundle",
    "ReservesReport",
    "pinned_asset_registry",
    "read_reserves_bundle",
    "signed_reserves_check",
    "trusted_registry_description",
    "verify_reserves_dir",
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


@dataclass(frozen=True, slots=True)
class ReservesReport:
    """A bundle's reserves checked and re-read: every check in order (with a pinned key the
    "manifest" check first), the files as read, and whether the key was pinned (without
    one, ownership proofs were checked against the manifest's own key)."""

    checks: list[Check]
    reserves: dict[str, Any]
    document: Any
    key_pinned: bool

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def passed(self) -> bool:
        """No check failed (a skipped one did not run)."""
        return not self.failed


def verify_reserves_dir(
    directory: str | Path,
    eth_rpcs: Sequence[str],
    sol_rpcs: Sequence[str],
    *,
    public_key: bytes | None = None,
    assets: AssetRegistry | None = None,
    policy: AttestationPolicy | None = None,
) -> ReservesReport:
    """`por verify reserves`: the bundle's files read, with `public_key` its signed manifest
    lists reserves.json (`ManifestError` when the signature fails), then `verify_reserves`
    against the auditor's nodes (`assets`: the pinned registry; `policy`: the attestation
    ages, None for the defaults)."""
    bundle = read_reserves_bundle(directory)
    checks = [] if public_key is None else [signed_reserves_check(bundle, public_key)]
    checks += verify_reserves(
        bundle.reserves,
        eth_rpcs,
        sol_rpcs,
        manifest=bundle.manifest,
        document=bundle.document,
        assets=assets,
        exchange_key=public_key,
        policy=policy,
    )
    return ReservesReport(checks, bundle.reserves, bundle.document, public_key is not None)


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
