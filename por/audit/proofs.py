"""`por verify proof`'s checks: one proof or set, a batch, one account across hours, each
optionally against the site's transparency log.

The edge of the verifier for users: files are read here (bounded), the decisions are the
pure ones of `por.audit.batch` (the spec's checks) and `por.audit.logged` (the log). Each
function returns a report for the caller to print. A failed proof check raises
`ProofError` (`ProofSetError` for a set); a failed log check is kept in the report's
`log_error`, so that the caller can say that it was the log, not the proof, that failed.
Unusable input (an unreadable file) raises `InputError` before any check.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from por._input import load_json, read_bounded
from por.audit.batch import (
    AccountHistory,
    AccountHour,
    ProofOutcome,
    check_account_history,
    verify_document,
    verify_proof_batch,
)
from por.audit.logged import check_manifest_logged
from por.audit.replica import LogReplica, read_entries_file
from por.errors import InputError, ManifestError, PorError, ProofError
from por.manifest import Manifest, parse_manifest_bytes
from por.proofset import AccountClaim, ProofDocument, parse_proof_document_bytes, prefixed

__all__ = [
    "PROOF_FORMATS",
    "BatchReport",
    "AccountHoursReport",
    "LogPosition",
    "ProofReport",
    "check_account_hours",
    "check_proof_file",
    "check_proof_files",
    "find_site_log",
    "hour_files",
    "proof_manifest",
    "read_account_hours",
]

PROOF_FORMATS = ("por-proof/1", "por-proof-set/1")


@dataclass(frozen=True, slots=True)
class LogPosition:
    """The manifest's entry in the log (`index`) and the log size it states (`size`)."""

    index: int
    size: int


@dataclass(frozen=True, slots=True)
class ProofReport:
    """One proof or set that holds: its claim (a set's sums; None for a single proof), and
    with a log its position there or the log check's failure."""

    document: ProofDocument
    manifest: Manifest
    claim: AccountClaim | None
    log: LogPosition | None = None
    log_error: PorError | None = None


@dataclass(frozen=True, slots=True)
class BatchReport:
    """Many files against one manifest: a verdict each (a bad proof is an outcome, not an
    exception), and the manifest's place in the log when one was given."""

    manifest: Manifest
    outcomes: list[ProofOutcome]
    log: LogPosition | None = None
    log_error: PorError | None = None


@dataclass(frozen=True, slots=True)
class AccountHoursReport:
    """One account followed across hours: the hours as checked, the account and its claim
    per hour, and (with a log) each hour's entry index by snapshot id."""

    hours: tuple[AccountHour, ...]
    history: AccountHistory
    logged: dict[str, int]
    log_error: PorError | None = None


def proof_manifest(raw: bytes, where: str | None = None) -> Manifest:
    """The manifest a proof is checked against; a malformed one fails the proof's check 5
    (as `por.verify.verify_proof_bytes` says), named by `where` when given."""
    try:
        return parse_manifest_bytes(raw)
    except ManifestError as exc:
        failure = ProofError(5, str(exc))
        raise (failure if where is None else prefixed(failure, where)) from None


def find_site_log(bundle_dir: str) -> str | None:
    """The site's log/entries.jsonl above a bundle directory (bundles live inside a site)."""
    from por.audit.monitor import LOG_ENTRIES_PATH

    here = os.path.abspath(bundle_dir)
    for _ in range(3):
        here = os.path.dirname(here)
        candidate = os.path.join(here, LOG_ENTRIES_PATH)
        if os.path.isfile(candidate):
            return candidate
    return None


def _logged(
    manifest_raw: bytes, manifest: Manifest, log_path: str
) -> tuple[LogPosition | None, PorError | None]:
    """The manifest's position in the log, or the log check's failure."""
    try:
        replica = read_entries_file(log_path)
        index = check_manifest_logged(load_json(manifest_raw, "manifest"), manifest, replica)
    except PorError as exc:
        return None, exc
    return LogPosition(index, manifest.log.size), None


def check_proof_file(
    proof_path: str, manifest_path: str, public_key: bytes | None, log_path: str | None = None
) -> ProofReport:
    """A proof (all five checks) or a set (all three set checks), then (with `log_path`)
    that the manifest's root is the one logged for its hour."""
    proof_raw = read_bounded(proof_path)
    manifest_raw = read_bounded(manifest_path)
    document = parse_proof_document_bytes(proof_raw)
    manifest = proof_manifest(manifest_raw)
    claim = verify_document(document, manifest, public_key)
    if log_path is None:
        return ProofReport(document, manifest, claim)
    log, error = _logged(manifest_raw, manifest, log_path)
    return ProofReport(document, manifest, claim, log, error)


def check_proof_files(
    paths: Sequence[str],
    manifest_path: str,
    public_key: bytes | None,
    log_path: str | None = None,
) -> BatchReport:
    """Every file (a proof or a set) against one manifest, whose signature is checked once
    first (`ProofError` check 5 if it fails: then no proof can hold); an unreadable file is
    that file's outcome."""
    manifest_raw = read_bounded(manifest_path)
    manifest = proof_manifest(manifest_raw)

    def files() -> Iterator[tuple[str, bytes]]:
        for path in paths:
            try:
                yield path, read_bounded(path)
            except InputError as exc:
                yield path, str(exc).encode() + b"\xff"  # not UTF-8: reported unreadable

    try:
        outcomes = verify_proof_batch(files(), manifest, public_key)
    except ManifestError as exc:
        raise ProofError(5, str(exc)) from None
    if log_path is None:
        return BatchReport(manifest, outcomes)
    log, error = _logged(manifest_raw, manifest, log_path)
    return BatchReport(manifest, outcomes, log, error)


def hour_files(directory: str) -> tuple[str, str]:
    """(proof or proof set file, manifest file) of one hour's directory."""
    manifest = os.path.join(directory, "manifest.json")
    if not os.path.isdir(directory) or not os.path.isfile(manifest):
        raise InputError(f"{directory}: expected a directory with manifest.json and a proof")
    proofs = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name == "manifest.json" or not name.endswith(".json") or not os.path.isfile(path):
            continue
        try:
            value = load_json(read_bounded(path), path)
        except InputError:
            continue
        if isinstance(value, dict) and value.get("format") in PROOF_FORMATS:
            proofs.append(path)
    if len(proofs) != 1:
        raise InputError(
            f"{directory}: expected exactly one por-proof/1 or por-proof-set/1 file beside"
            f" manifest.json, found {len(proofs)}"
        )
    return proofs[0], manifest


def read_account_hours(directories: Sequence[str]) -> list[AccountHour]:
    """Each directory's proof and manifest (`hour_files`), parsed, in snapshot order;
    a malformed proof or manifest raises `ProofError` naming its file."""
    hours = []
    for directory in directories:
        proof_path, manifest_path = hour_files(directory)
        manifest_raw = read_bounded(manifest_path)
        try:
            document = parse_proof_document_bytes(read_bounded(proof_path))
        except ProofError as exc:
            raise prefixed(exc, proof_path) from None
        manifest = proof_manifest(manifest_raw, manifest_path)
        hours.append(AccountHour(document, manifest, manifest_raw))
    hours.sort(key=lambda h: h.proof.snapshot_id)
    return hours


def check_account_hours(
    hours: Sequence[AccountHour],
    public_key: bytes | None,
    replica: Callable[[], LogReplica] | None = None,
) -> AccountHoursReport:
    """Every hour's proof or set holds and all follow one account (`check_account_history`:
    raises its `ProofError` or `ManifestError`), then, with `replica` (the log, read only
    once the proofs hold), every hour's root is the one logged (each hour's
    `manifest_raw` is its signed manifest)."""
    history = check_account_history(hours, public_key)
    logged: dict[str, int] = {}
    if replica is None:
        return AccountHoursReport(tuple(hours), history, logged)
    try:
        log = replica()
        for hour in hours:
            if hour.manifest_raw is None:
                raise InputError(f"snapshot {hour.proof.snapshot_id}: no signed manifest bytes")
            document = load_json(hour.manifest_raw, "manifest")
            logged[hour.proof.snapshot_id] = check_manifest_logged(document, hour.manifest, log)
    except PorError as exc:
        return AccountHoursReport(tuple(hours), history, logged, exc)
    return AccountHoursReport(tuple(hours), history, logged)
