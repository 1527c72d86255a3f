"""Verifying many inclusion proofs against one manifest, or one account across hours.

Pure: bytes or parsed records in, one `ProofOutcome` per proof out (never an exception
for a bad proof: a batch reports each). A proof that is not even JSON is reported as
unreadable, distinct from one that fails a check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from por.errors import InputError, ManifestError, ProofError
from por.manifest import Manifest, verify_manifest
from por.proof import InclusionProof, parse_proof_bytes
from por.verify import verify_proof

__all__ = [
    "AccountHour",
    "ProofOutcome",
    "check_account_history",
    "verify_proof_batch",
]


@dataclass(frozen=True, slots=True)
class ProofOutcome:
    """One proof's verdict: `proof` when it parsed, `error` (None when valid), `check`
    (the spec's check number that failed; 0 when the file is unreadable)."""

    name: str
    proof: InclusionProof | None
    error: str | None
    check: int | None = None

    @property
    def valid(self) -> bool:
        return self.error is None


def verify_proof_batch(
    proofs: Iterable[tuple[str, bytes]], manifest: Manifest, public_key: bytes | None
) -> list[ProofOutcome]:
    """Each (name, bytes) checked with all five checks against one manifest.

    The manifest's signature is checked once first (`ManifestError` if it fails: then no
    proof can hold); each proof then gets its own verdict.
    """
    verify_manifest(manifest, public_key)
    key = manifest.public_key
    out = []
    for name, raw in proofs:
        try:
            proof = parse_proof_bytes(raw)
        except ProofError as exc:
            out.append(ProofOutcome(name, None, str(exc), exc.check))
            continue
        except InputError as exc:
            out.append(ProofOutcome(name, None, str(exc), 0))
            continue
        try:
            verify_proof(proof, manifest, key)
        except ProofError as exc:
            out.append(ProofOutcome(name, proof, str(exc), exc.check))
            continue
        out.append(ProofOutcome(name, proof, None))
    return out


@dataclass(frozen=True, slots=True)
class AccountHour:
    """One hour of one account: its verified proof and the manifest it holds against."""

    proof: InclusionProof
    manifest: Manifest


def check_account_history(hours: Sequence[AccountHour], public_key: bytes | None) -> str:
    """Every hour's proof holds, all name the same account, no hour is given twice.

    Returns the account id; raises `ProofError` (the hour's failed check) or
    `ManifestError` naming the hour. Proofs without `account_id` cannot be tied to an
    account: refused (check 2), since the point is to follow one account.
    """
    if not hours:
        raise InputError("no hours given")
    account: str | None = None
    seen: set[str] = set()
    for hour in hours:
        sid = hour.proof.snapshot_id
        try:
            verify_proof(hour.proof, hour.manifest, public_key)
        except ProofError as exc:
            raise ProofError(exc.check, f"snapshot {sid}: {exc.detail}") from None
        if hour.proof.account_id is None:
            raise ProofError(
                2, f"snapshot {sid}: the proof names no account_id, so it cannot be followed"
            )
        if account is None:
            account = hour.proof.account_id
        elif hour.proof.account_id != account:
            raise ProofError(
                2,
                f"snapshot {sid}: proof is for account {hour.proof.account_id!r},"
                f" the others are for {account!r}",
            )
        if sid in seen:
            raise ManifestError(f"snapshot {sid} is given twice")
        seen.add(sid)
    assert account is not None
    return account
