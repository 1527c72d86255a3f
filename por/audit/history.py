"""`por verify history`: every hour a site published, and the whole log, in one run.

The site's signed head must verify under the pinned key and its entries must give its
root (`monitor.read_site_log`); then every bundle under `snapshots/` is verified with all
of `por verify bundle`'s checks against that one rebuilt log; every log entry must have
its bundle on the site; and the hours must chain: each manifest's `previous` names the
hour logged just before it and the SHA-256 of that hour's `manifest.json`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from por.audit.bundle import BUNDLE_CHECKS, BundleReport, Check, verify_bundle_dir
from por.audit.errors import AuditInputError, LogMismatchError
from por.audit.monitor import read_site_log
from por.audit.source import Site
from por.errors import PorError
from por.log import parse_entry

if TYPE_CHECKING:
    from pyrage.x25519 import Identity

__all__ = ["SNAPSHOTS_DIR", "HistoryReport", "verify_history"]

SNAPSHOTS_DIR = "snapshots"


@dataclass(slots=True)
class HistoryReport:
    site_checks: list[Check] = field(default_factory=list)
    bundles: list[BundleReport] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.site_checks) and all(
            b.passed for b in self.bundles
        )

    def hour_summaries(self) -> list[Check]:
        """One check per hour, named by its snapshot (else its directory): failed with its
        failed checks' details, or passed, naming the checks that did not run."""
        summaries = []
        for bundle in self.bundles:
            failed = bundle.failed
            skipped = sorted({c.name for c in bundle.not_run})
            if failed:
                detail = "; ".join(f"{c.name}: {c.detail}" for c in failed)
            elif skipped:
                detail = f"all checks pass (skipped: {', '.join(skipped)})"
            else:
                detail = "all checks pass"
            summaries.append(Check(_hour_name(bundle), "fail" if failed else "pass", detail))
        return summaries

    def failed_names(self) -> list[str]:
        """The site checks that failed, then the hours that failed (as `hour_summaries`
        names them)."""
        sites = [c.name for c in self.site_checks if c.status == "fail"]
        return sites + [_hour_name(b) for b in self.bundles if not b.passed]


def _hour_name(bundle: BundleReport) -> str:
    """An hour by its snapshot id, or its directory when its manifest did not verify."""
    return bundle.manifest.snapshot_id if bundle.manifest is not None else bundle.directory.name


def _bundle_dirs(root: Path) -> list[Path]:
    base = root / SNAPSHOTS_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and (p / "manifest.json").is_file())


def _unreadable(directory: Path, exc: Exception) -> BundleReport:
    """The report of an hour whose bundle could not be read at all (its manifest is not
    JSON, not text, or unreadable): its manifest check fails, the others did not run."""
    detail = str(exc) if isinstance(exc, PorError) else f"cannot read: {exc}"
    if directory.name not in detail:
        detail = f"{directory.name}: {detail}"
    bundle = BundleReport(directory)
    bundle.checks.append(Check("manifest", "fail", detail))
    for name in BUNDLE_CHECKS[1:]:
        bundle.checks.append(Check(name, "skip", "the bundle cannot be read"))
    return bundle


def verify_history(
    site_dir: str,
    public_key: bytes,
    *,
    eth_rpc: str | None = None,
    identities: Sequence[Identity] = (),
) -> HistoryReport:
    """Everything a site published; `AuditInputError` when the site cannot be read.

    An hour whose bundle cannot be read (a manifest that is not JSON, say) is reported as
    that hour failing, and the other hours are still checked.

    `identities` (an auditor's age keys) open the hours whose leaf list is encrypted for
    the auditors; without one of their keys, those rebuilds are skipped and said so."""
    root = Path(site_dir)
    if not root.is_dir():
        raise AuditInputError(f"{site_dir}: not a directory (expected a published site)")
    report = HistoryReport()
    site = Site(site_dir)
    try:
        _doc, head, replica = read_site_log(site, [public_key.hex()])
    except LogMismatchError as exc:
        report.site_checks.append(Check("log", "fail", str(exc)))
        return report
    report.site_checks.append(
        Check("log", "pass", f"signed head of {head.size} entries; the entries give its root")
    )
    by_sid: dict[str, BundleReport] = {}
    raws: dict[str, bytes] = {}
    for directory in _bundle_dirs(root):
        try:
            bundle = verify_bundle_dir(
                directory, public_key, eth_rpc=eth_rpc, log=(head, replica), identities=identities
            )
        except (PorError, OSError) as exc:  # this hour cannot be read: say so, check the rest
            bundle = _unreadable(directory, exc)
        report.bundles.append(bundle)
        if bundle.manifest is not None:
            by_sid[bundle.manifest.snapshot_id] = bundle
            raws[bundle.manifest.snapshot_id] = (directory / "manifest.json").read_bytes()
    order = [parse_entry(e).snapshot_id for e in replica.entries]
    missing = [sid for sid in order if sid not in by_sid]
    if missing:
        report.site_checks.append(
            Check(
                "bundles",
                "fail",
                f"{len(missing)} logged hours have no bundle with a verified manifest:"
                f" {missing[:5]}",
            )
        )
    else:
        report.site_checks.append(
            Check("bundles", "pass", f"every one of the {len(order)} logged hours has its bundle")
        )
    broken = []
    for before, sid in zip(order, order[1:], strict=False):
        later = by_sid.get(sid)
        if later is None or later.document is None or before not in raws:
            continue
        previous: Any = later.document.get("previous")
        want = hashlib.sha256(raws[before]).hexdigest()
        if not isinstance(previous, dict) or previous.get("snapshot_id") != before:
            broken.append(f"{sid} does not name {before} as the previous hour")
        elif previous.get("manifest_sha256") != want:
            broken.append(f"{sid} names another manifest of {before} than the published one")
    if broken:
        report.site_checks.append(Check("chain", "fail", "; ".join(broken[:5])))
    else:
        report.site_checks.append(
            Check("chain", "pass", "each hour names the one logged before it and its manifest")
        )
    return report
