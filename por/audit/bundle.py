"""`por verify bundle`: check one published hour from its public files alone.

The checks, each a named `Check` with status pass, fail or skip (and why):

- manifest: `manifest.json` parses and is signed by the pinned key (nothing else is
  trusted before this passes; every later check is skipped when it fails);
- files: every file the signed `bundle.files` lists is there with its SHA-256 and size,
  and nothing else is. The format requires reconciliation.json, reserves.json and the
  leaf list (unless the signed `leaf_list` says mode none): a required file missing from
  the signed list fails its own check (liabilities, reconciliation, reserves), never
  skips it;
- liabilities: the whole tree rebuilt from the leaf list (fast builder path, see
  `_leaflist`) gives the manifest's height, leaf count and root; every amount canonical,
  tags strictly ascending (so unique), no leaf with both equity and debt in one asset.
  The signed `leaf_list` field (`por.leaflist`) says where the list is: public
  (`liabilities.jsonl`), encrypted for auditors (`liabilities.jsonl.age`, decrypted in
  a stream with the auditor's age identity, never written to disk: skipped without one,
  or `LeafListLockedError` when the caller requires it), or withheld (skipped: the
  tree cannot be rebuilt, and the report says so);
- reconciliation: every figure of `reconciliation.json` recomputed (`_reconcile`): per
  asset liabilities and debts are the root's, net, reserves (reserves.json's totals),
  custody gap, coverage and PASS/FAIL; the USD and collateral views; the overall verdict
  and the manifest's `reconciliation` field; no unknown field;
- reserves: every ownership signature in `reserves.json` (EIP-191 recovery equals the
  address; Ed25519 over the exact text) for this snapshot and exchange; every address
  with a balance proven; totals add up; pins equal the manifest's;
- log: the hour's entry is in the site's log, the log's first `log.size` entries give the
  manifest's log root, the site's signed head verifies under the pinned key and its
  entries give its root (needs the site: found around the bundle, or given);
- anchor (with an Ethereum RPC): this hour's PorAnchor record (`anchorOf`) holds the
  manifest's log size and root and the SHA-256 of `manifest.json`; the previous hour's
  anchor transaction named in the manifest emitted exactly that hour's RootPublished.

Reading is at the edge (files, RPC); the arithmetic is plain functions over parsed JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from por._input import load_json, load_json_text, read_bounded
from por.audit._signed import open_signed, read_signed
from por.audit.errors import AuditInputError, LogMismatchError
from por.audit.replica import LogReplica
from por.audit.source import Site
from por.errors import ManifestError, PorError, TreeError
from por.leaflist import (
    CLEAR_NAME,
    SEALED_NAME,
    LeafListDecryptError,
    LeafListError,
    LeafListPolicy,
    from_manifest,
    identity_recipients,
)
from por.log import LogHead
from por.manifest import Manifest, parse_manifest_bytes, verify_manifest

if TYPE_CHECKING:
    from pyrage.x25519 import Identity

    from por.reserves.attestation import AttestationPolicy
    from por.reserves.registry import AssetRegistry

__all__ = [
    "BUNDLE_CHECKS",
    "BundleReport",
    "Check",
    "LeafListLockedError",
    "check_reconciliation",
    "check_reserves",
    "find_site",
    "verify_bundle_dir",
]

MANIFEST_NAME = "manifest.json"
LIABILITIES_NAME = CLEAR_NAME
RESERVES_NAME = "reserves.json"
RECONCILIATION_NAME = "reconciliation.json"
BUNDLE_FORMAT = "por-bundle/1"
BUNDLE_CHECKS = ("manifest", "files", "liabilities", "reconciliation", "reserves", "log", "anchor")
_MISSING = "{} is missing from the bundle's signed file list (por-bundle/1 requires it)"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Check:
    """One named check: status "pass", "fail" or "skip"; `detail` says what was found."""

    name: str
    status: str
    detail: str


@dataclass(slots=True)
class BundleReport:
    directory: Path
    checks: list[Check] = field(default_factory=list)
    manifest: Manifest | None = None
    document: dict[str, Any] | None = None
    leaf_list: LeafListPolicy | None = None  # as the signed manifest states it

    @property
    def passed(self) -> bool:
        """No check failed (a skipped check did not run: see `not_run`)."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def not_run(self) -> list[Check]:
        return [c for c in self.checks if c.status == "skip"]


class LeafListLockedError(AuditInputError):
    """The leaf list is encrypted for auditors and no identity given opens it: nothing
    was checked (exit 2). `recipients` are the keys it is encrypted to."""

    def __init__(self, message: str, recipients: Sequence[str]) -> None:
        super().__init__(message)
        self.recipients = tuple(recipients)


class _Fail(Exception):
    """A check failed; the message is its detail."""


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# -- the checks (each raises _Fail with its detail, or returns a pass detail) ---------------
def _check_files(directory: Path, document: Mapping[str, Any]) -> str:
    bundle = document.get("bundle")
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise _Fail(f"the manifest has no 'bundle' field of format {BUNDLE_FORMAT}")
    files = bundle.get("files")
    if not isinstance(files, dict):
        raise _Fail("bundle.files: expected an object of file name -> {sha256, bytes}")
    present = sorted(p for p in os.listdir(directory) if p != MANIFEST_NAME)
    extra = sorted(set(present) - set(files))
    missing = sorted(set(files) - set(present))
    if missing or extra:
        raise _Fail(f"files missing: {missing}; files not in the signed list: {extra}")
    for name, want in sorted(files.items()):
        path = directory / name
        if os.sep in name or name.startswith(".") or not path.is_file():
            raise _Fail(f"{name}: not a plain file of the bundle")
        if not isinstance(want, dict):
            raise _Fail(f"{name}: expected {{sha256, bytes}} in the manifest")
        digest, size = _sha256_file(path)
        if not hmac.compare_digest(digest, str(want.get("sha256"))):
            raise _Fail(f"{name}: SHA-256 {digest}, the manifest says {want.get('sha256')}")
        if size != want.get("bytes"):
            raise _Fail(f"{name}: {size} bytes, the manifest says {want.get('bytes')}")
    return f"{len(files)} files, every SHA-256 and size as signed"


def _fold(stream: IO[bytes], manifest: Manifest, what: str) -> Any:
    from por.audit._leaflist import fold_leaf_file

    try:
        return fold_leaf_file(stream, manifest.symbols, what)
    except TreeError as exc:
        raise _Fail(str(exc)) from None


def _check_liabilities(
    directory: Path,
    manifest: Manifest,
    document: Mapping[str, Any],
    policy: LeafListPolicy,
    identities: Sequence[Identity] = (),
) -> str:
    if policy.mode == "auditors":
        from por.leaflist import decrypted

        try:
            with decrypted(directory / SEALED_NAME, identities) as stream:
                summary = _fold(stream, manifest, SEALED_NAME)
        except LeafListDecryptError as exc:
            keys = ", ".join(identity_recipients(identities))
            raise _Fail(
                f"{SEALED_NAME}: {exc} (key {keys}, which the signed manifest names as a recipient)"
            ) from None
        opened = f" decrypted with the key {identity_recipients(identities)[0]}"
    else:
        signed = document.get("bundle", {}).get("files", {}).get(LIABILITIES_NAME)
        with open_signed(directory / LIABILITIES_NAME, signed) as stream:  # fold what is hashed
            summary = _fold(stream, manifest, LIABILITIES_NAME)
        opened = ""
    stated = document.get("leaf_count")
    if stated is not None and stated != summary.leaf_count:
        raise _Fail(f"{summary.leaf_count} leaves, the manifest's leaf_count says {stated}")
    if summary.height != manifest.height:
        raise _Fail(f"the leaves give height {summary.height}, the manifest {manifest.height}")
    if not hmac.compare_digest(summary.root.hash, manifest.root.hash):
        raise _Fail(
            f"the leaves give root {summary.root.hash.hex()}, the manifest"
            f" {manifest.root.hash.hex()}"
        )
    if summary.root != manifest.root:
        raise _Fail("the leaves' totals differ from the manifest's root totals")
    return (
        f"{summary.leaf_count} leaves{opened} rebuild the signed root"
        f" {manifest.root.hash.hex()[:16]}…"
    )


def _recipients_text(recipients: Sequence[str]) -> str:
    n = len(recipients)
    return f"{n} auditor{'s' if n != 1 else ''} ({', '.join(recipients)})"


def _openers(policy: LeafListPolicy, identities: Sequence[Identity]) -> list[Identity]:
    """The given identities whose key is one the list is encrypted to."""
    keys = set(policy.recipients)
    return [
        i for i, r in zip(identities, identity_recipients(identities), strict=True) if r in keys
    ]


def _locked_reason(policy: LeafListPolicy, identities: Sequence[Identity]) -> str:
    said = f"the leaf list is encrypted (age) for {_recipients_text(policy.recipients)}"
    if not identities:
        return f"{said}; give --identity FILE holding one of their keys"
    mine = ", ".join(identity_recipients(identities))
    return f"{said}; the identity given is for {mine}, not one of them"


def _leaf_list_check(
    path: Path,
    manifest: Manifest,
    document: Mapping[str, Any],
    listed: Mapping[str, Any],
    policy: LeafListPolicy,
    identities: Sequence[Identity],
) -> Check | Callable[[], str]:
    """A skip or failure decided from the signed statement alone, else the rebuild to run."""
    stated = "leaf_list" in document
    others = sorted(n for n in (LIABILITIES_NAME, SEALED_NAME) if n in listed and n != policy.file)
    if others:
        return Check(
            "liabilities",
            "fail",
            f"the manifest's leaf_list says mode {policy.mode}, yet bundle.files lists {others}",
        )
    if policy.mode == "none":
        if stated:
            detail = (
                "NOT RUN: the exchange withheld the leaf list (signed leaf_list mode none);"
                " the tree cannot be rebuilt, only its signed root and totals are checked"
            )
            return Check("liabilities", "skip", detail)
        return Check(
            "liabilities",
            "fail",
            f"{_MISSING.format(LIABILITIES_NAME)} unless the signed manifest says the leaf"
            " list is withheld (leaf_list mode none)",
        )
    if policy.file not in listed:
        return Check("liabilities", "fail", f"leaf_list names {policy.file}, not in bundle.files")
    if policy.mode == "auditors":
        openers = _openers(policy, identities)
        if not openers:
            return Check("liabilities", "skip", f"NOT RUN: {_locked_reason(policy, identities)}")
        return lambda: _check_liabilities(path, manifest, document, policy, openers)
    return lambda: _check_liabilities(path, manifest, document, policy)


def _amount(value: Any, where: str) -> int:
    if (
        not isinstance(value, str)
        or not value.isascii()
        or not value.isdigit()
        or len(value) > 78  # below 2^256; and int() of thousands of digits is refused
    ):
        shown = f"{value[:40]}… ({len(value)} characters)" if isinstance(value, str) else value
        raise _Fail(f"{where}: expected a decimal string of at most 78 digits, got {shown!r}")
    if len(value) > 1 and value[0] == "0":
        raise _Fail(f"{where}: leading zero in {value!r}")
    return int(value)


def _signed_amount(value: Any, where: str) -> int:
    if isinstance(value, str) and value.startswith("-"):
        return -_amount(value[1:], where)
    return _amount(value, where)


def reserve_totals(reserves: Mapping[str, Any] | None) -> dict[str, int]:
    if reserves is None:
        return {}
    if not isinstance(reserves, dict):
        raise _Fail("reserves.json: expected an object")
    totals = reserves.get("totals")
    if not isinstance(totals, dict):
        raise _Fail("reserves.json: totals: expected an object")
    return {str(k): _amount(v, f"reserves.json totals.{k}") for k, v in totals.items()}


def check_reconciliation(
    report: Any, manifest: Manifest, document: Mapping[str, Any], reserves: Mapping[str, Any] | None
) -> str:
    """Recompute every figure of reconciliation.json (`por.audit._reconcile`); `_Fail`.

    The reserve figures come from reserves.json's totals: without reserves.json they
    cannot be recomputed, so the check fails (a bundle must carry its reserves)."""
    from por.audit._reconcile import ReconciliationMismatch, recompute

    if reserves is None:
        raise _Fail(f"{_MISSING.format(RESERVES_NAME)}: the reserve figures cannot be recomputed")
    try:
        return recompute(report, manifest, document, reserve_totals(reserves))
    except ReconciliationMismatch as exc:
        raise _Fail(str(exc)) from None


def reserve_registry(document: Mapping[str, Any], pinned: AssetRegistry | None) -> AssetRegistry:
    """The asset registry the reserves are checked by: the auditor's pinned one (which the
    manifest's signed `reserve_assets` must not contradict), else the signed one."""
    from por.reserves.errors import ReservesError
    from por.reserves.registry import registry_from_json

    signed_raw = document.get("reserve_assets")
    if signed_raw is None:
        if pinned is None:
            raise _Fail(
                "the manifest signs no asset registry (reserve_assets): nothing says which"
                " contract or mint each asset is; pin one with --assets FILE"
            )
        return pinned
    try:
        signed = registry_from_json(signed_raw, "registry signed in the manifest")
    except ReservesError as exc:
        raise _Fail(str(exc)) from None
    if pinned is None:
        return signed
    differ = pinned.differences(signed)
    if differ:
        raise _Fail(f"registry_differs_from_pinned: {differ[0]}")
    return pinned


def check_reserves(
    reserves: Any,
    manifest: Manifest,
    document: Mapping[str, Any],
    *,
    assets: AssetRegistry | None = None,
    policy: AttestationPolicy | None = None,
) -> str:
    """Every balance read from its registered contract or mint, once, of a listed wallet;
    every wallet's ownership bound to the pinned key (the verified manifest's), this chain
    and snapshot (or, per period, judged by `policy`: None is the default per role);
    totals; pins equal to the manifest's (`por.reserves.verify`)."""
    from por.reserves.attestation import DEFAULT_POLICY
    from por.reserves.errors import ReservesError
    from por.reserves.verify import check_published_reserves

    registry = reserve_registry(document, assets)
    try:
        checked = check_published_reserves(
            reserves,
            snapshot_id=manifest.snapshot_id,
            exchange_key=manifest.public_key.hex(),
            registry=registry,
            ledger_assets={a.symbol: a.decimals for a in manifest.assets},
            signed_pins=document.get("reserves"),
            policy=policy or DEFAULT_POLICY,
        )
    except ReservesError as exc:
        raise _Fail(str(exc)) from None
    balances = sum(len(r.balances) for r in checked.readings)
    return (
        f"{checked.proofs} ownership signatures bound to the pinned key verify;"
        f" {balances} balances of {len(checked.readings)} chain readings match the"
        f" {registry.source} and add up"
    )


def find_site(directory: Path) -> Site | None:
    """The site a bundle sits in (`<site>/snapshots/<name>/`), if its log is there."""
    from por.audit.monitor import LOG_ENTRIES_PATH
    from por.audit.source import Site

    here = directory.resolve()
    for _ in range(3):
        here = here.parent
        if (here / LOG_ENTRIES_PATH).is_file():
            return Site(str(here))
    return None


def _check_log(
    site: Site | None,
    manifest: Manifest,
    document: Mapping[str, Any],
    key_hex: str,
    known: tuple[LogHead, LogReplica] | None = None,
) -> str:
    from por.audit.logged import check_manifest_logged
    from por.audit.monitor import read_site_log

    try:
        if known is None:
            assert site is not None
            _doc, head, replica = read_site_log(site, [key_hex])
        else:
            head, replica = known
        index = check_manifest_logged(document, manifest, replica)
    except LogMismatchError as exc:
        raise _Fail(str(exc)) from None
    return (
        f"entry {index} of the log; the first {manifest.log.size} entries give the signed log"
        f" root; the site's signed head (size {head.size}) matches its {replica.size} entries"
    )


def _check_anchor(
    rpc_url: str,
    manifest: Manifest,
    document: Mapping[str, Any],
    manifest_raw: bytes,
    contract: str | None,
) -> str:
    from por.audit._anchor import check_anchor

    try:
        return check_anchor(rpc_url, manifest, document, manifest_raw, contract)
    except LogMismatchError as exc:
        raise _Fail(str(exc)) from None


# -- the whole bundle ------------------------------------------------------------------------
def verify_bundle_dir(
    directory: str | os.PathLike[str],
    public_key: bytes,
    *,
    site: Site | None = None,
    eth_rpc: str | None = None,
    anchor_contract: str | None = None,
    log: tuple[LogHead, LogReplica] | None = None,
    identities: Sequence[Identity] = (),
    require_identity: bool = False,
    assets: AssetRegistry | None = None,
    attestation_policy: AttestationPolicy | None = None,
) -> BundleReport:
    """Run every check; `AuditInputError` only when there is nothing to check at all.

    `log` is the site's verified head and rebuilt log when the caller already has them
    (`por verify history` checks many bundles against one log). `identities`: the
    auditor's age identities, for a leaf list encrypted for auditors; when none of them
    opens it, its check is skipped (said so), or with `require_identity`
    `LeafListLockedError` is raised before anything else is checked. `assets`: the
    auditor's pinned asset registry (else the one the manifest signs);
    `attestation_policy`: the maximum age of a cold wallet's per-period attestation.
    """
    path = Path(directory)
    if not path.is_dir():
        raise AuditInputError(f"{path}: not a directory (expected a published bundle)")
    report = BundleReport(path)
    raw = read_bounded(path / MANIFEST_NAME)
    document = load_json(raw, os.fspath(path / MANIFEST_NAME))
    try:
        manifest = parse_manifest_bytes(raw)
        verify_manifest(manifest, public_key)
    except ManifestError as exc:
        report.checks.append(Check("manifest", "fail", str(exc)))
        for name in BUNDLE_CHECKS[1:]:
            report.checks.append(Check(name, "skip", "the manifest is not verified"))
        return report
    report.manifest, report.document = manifest, document
    policy_error = None
    try:
        report.leaf_list = from_manifest(document)
    except LeafListError as exc:
        policy_error = str(exc)
    policy = report.leaf_list
    if (
        require_identity
        and policy is not None
        and policy.mode == "auditors"
        and not _openers(policy, identities)
    ):
        raise LeafListLockedError(
            f"{manifest.snapshot_id}: {_locked_reason(policy, identities)}", policy.recipients
        )
    report.checks.append(
        Check("manifest", "pass", f"{manifest.snapshot_id}, signed by the pinned key")
    )

    def run(name: str, check: Callable[[], str]) -> bool:
        try:
            report.checks.append(Check(name, "pass", check()))
            return True
        except _Fail as exc:
            report.checks.append(Check(name, "fail", str(exc)))
        except (PorError, OSError) as exc:
            report.checks.append(Check(name, "fail", str(exc)))
        return False

    files_ok = run("files", lambda: _check_files(path, document))
    listed = document.get("bundle", {}).get("files", {}) if files_ok else {}

    def json_file(name: str) -> Any:
        # the hashed bytes; a string with no UTF-8 form (a lone surrogate) is refused here
        return load_json_text(read_signed(path / name, listed.get(name)), name)

    if policy_error is not None:
        report.checks.append(Check("liabilities", "fail", policy_error))
    elif not files_ok or policy is None:
        report.checks.append(Check("liabilities", "skip", "the files do not verify"))
    else:
        decided = _leaf_list_check(path, manifest, document, listed, policy, identities)
        if isinstance(decided, Check):
            report.checks.append(decided)
        else:
            run("liabilities", decided)
    reserves: Any = None
    reserves_error = None
    if files_ok and RESERVES_NAME in listed:
        try:
            reserves = json_file(RESERVES_NAME)
        except PorError as exc:
            reserves_error = str(exc)
    if not files_ok:
        report.checks.append(Check("reconciliation", "skip", "the files do not verify"))
    elif RECONCILIATION_NAME not in listed:
        report.checks.append(Check("reconciliation", "fail", _MISSING.format(RECONCILIATION_NAME)))
    elif reserves_error is not None:
        report.checks.append(Check("reconciliation", "fail", reserves_error))
    else:
        run(
            "reconciliation",
            lambda: check_reconciliation(
                json_file(RECONCILIATION_NAME), manifest, document, reserves
            ),
        )
    if not files_ok:
        report.checks.append(Check("reserves", "skip", "the files do not verify"))
    elif RESERVES_NAME not in listed:
        report.checks.append(Check("reserves", "fail", _MISSING.format(RESERVES_NAME)))
    elif reserves_error is not None:
        report.checks.append(Check("reserves", "fail", reserves_error))
    elif reserves is not None:
        run(
            "reserves",
            lambda: check_reserves(
                reserves, manifest, document, assets=assets, policy=attestation_policy
            ),
        )
    else:
        report.checks.append(Check("reserves", "fail", "reserves.json: expected an object"))
    found = site or (None if log is not None else find_site(path))
    if found is not None or log is not None:
        run("log", lambda: _check_log(found, manifest, document, public_key.hex(), log))
    else:
        report.checks.append(
            Check("log", "skip", "no site log around the bundle; pass --site DIR|URL")
        )
    if eth_rpc is not None:
        run("anchor", lambda: _check_anchor(eth_rpc, manifest, document, raw, anchor_contract))
    else:
        report.checks.append(Check("anchor", "skip", "no --eth-rpc given"))
    return report
