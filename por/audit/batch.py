"""Verifying many inclusion proofs against one manifest, or one account across hours.

Pure: bytes or parsed records in, one `ProofOutcome` per proof out (never an exception
for a bad proof: a batch reports each). A proof that is not even JSON is reported as
unreadable, distinct from one that fails a check. Wherever a `por-proof/1` is accepted, so
is an account's `por-proof-set/1` (its pieces, `por.proofset`): its verdict carries the
account's claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from por.errors import InputError, ManifestError, ProofError, ProofSetError
from por.manifest import Manifest, verify_manifest
from por.proofset import (
    AccountClaim,
    ProofDocument,
    ProofSet,
    parse_proof_document_bytes,
    prefixed,
    verify_proof_set,
)
from por.verify import verify_proof

__all__ = [
    "AccountHistory",
    "AccountHour",
    "ProofOutcome",
    "check_account_history",
    "verify_document",
    "verify_proof_batch",
]


@dataclass(frozen=True, slots=True)
class ProofOutcome:
    """One file's verdict: `proof` (a single proof or a set) when it parsed, `error` (None
    when valid), `check` (the spec's check number that failed; 0 when the file is
    unreadable), `set_check` (the set check that failed, for a set), `claim` (a valid
    set's account claim)."""

    name: str
    proof: ProofDocument | None
    error: str | None
    check: int | None = None
    set_check: int | None = None
    claim: AccountClaim | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def account_id(self) -> str | None:
        return None if self.proof is None else self.proof.account_id


def verify_document(
    document: ProofDocument, manifest: Manifest, public_key: bytes | None = None
) -> AccountClaim | None:
    """A single proof (all five checks: `None`) or a set (all three set checks: its claim).

    Raises `ProofError` (`ProofSetError` for a set) naming the failed check.
    """
    if isinstance(document, ProofSet):
        return verify_proof_set(document, manifest, public_key)
    verify_proof(document, manifest, public_key)
    return None


def _failed(name: str, document: ProofDocument | None, exc: ProofError) -> ProofOutcome:
    set_check = exc.set_check if isinstance(exc, ProofSetError) else None
    return ProofOutcome(name, document, str(exc), exc.check, set_check)


def verify_proof_batch(
    proofs: Iterable[tuple[str, bytes]], manifest: Manifest, public_key: bytes | None
) -> list[ProofOutcome]:
    """Each (name, bytes), a proof or a set, checked in full against one manifest.

    The manifest's signature is checked once first (`ManifestError` if it fails: then no
    proof can hold); each file then gets its own verdict.
    """
    verify_manifest(manifest, public_key)
    key = manifest.public_key
    out = []
    for name, raw in proofs:
        try:
            document = parse_proof_document_bytes(raw)
        except ProofError as exc:
            out.append(_failed(name, None, exc))
            continue
        except InputError as exc:
            out.append(ProofOutcome(name, None, str(exc), 0))
            continue
        try:
            claim = verify_document(document, manifest, key)
        except ProofError as exc:
            out.append(_failed(name, document, exc))
            continue
        out.append(ProofOutcome(name, document, None, claim=claim))
    return out


@dataclass(frozen=True, slots=True)
class AccountHour:
    """One hour of one account: its proof (single or set) and the manifest it holds against
    (`manifest_raw`: its signed bytes, for the log check of `por.audit.proofs`)."""

    proof: ProofDocument
    manifest: Manifest
    manifest_raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class AccountHistory:
    """What `check_account_history` established: the account, and per hour (in the order
    given) its claim: a set's sums over its pieces, or a single proof's leaf (1 piece)."""

    account_id: str
    claims: tuple[AccountClaim, ...]


def _hour_claim(hour: AccountHour, public_key: bytes | None) -> AccountClaim:
    """One hour verified in full; errors name the hour."""
    document = hour.proof
    sid = document.snapshot_id
    try:
        if isinstance(document, ProofSet):
            return verify_proof_set(document, hour.manifest, public_key)
        verify_proof(document, hour.manifest, public_key)
    except ProofError as exc:
        raise prefixed(exc, f"snapshot {sid}") from None
    if document.account_id is None:
        raise ProofError(
            2, f"snapshot {sid}: the proof names no account_id, so it cannot be followed"
        )
    leaf = document.leaf
    return AccountClaim(
        snapshot_id=sid,
        account_id=document.account_id,
        assets=document.assets,
        equity=leaf.equity,
        debt=leaf.debt,
        pieces=1,
        root=document.root,
    )


def check_account_history(hours: Sequence[AccountHour], public_key: bytes | None) -> AccountHistory:
    """Every hour's proof or set holds, all name the same account, no hour is given twice.

    Returns the account and its claim per hour; raises `ProofError` (`ProofSetError` for
    a set: the hour's failed check) or `ManifestError` naming the hour. Single proofs
    without `account_id` cannot be tied to an account: refused (check 2), since the point
    is to follow one account.
    """
    if not hours:
        raise InputError("no hours given")
    account: str | None = None
    seen: set[str] = set()
    claims = []
    for hour in hours:
        claim = _hour_claim(hour, public_key)
        sid = claim.snapshot_id
        if account is None:
            account = claim.account_id
        elif claim.account_id != account:
            raise ProofError(
                2,
                f"snapshot {sid}: proof is for account {claim.account_id!r},"
                f" the others are for {account!r}",
            )
        if sid in seen:
            raise ManifestError(f"snapshot {sid} is given twice")
        seen.add(sid)
        claims.append(claim)
    assert account is not None
    return AccountHistory(account, tuple(claims))
