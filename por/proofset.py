"""Proof sets (`por-proof-set/1`): one account in several leaves ("pieces"), verified as one.

An exchange may split an account into several leaves, each an ordinary `por-proof/1` leaf
with its own nonce, so that leaf lists and siblings say little about any one customer.
The account's own copy is a set of those proofs; the account's claim is, per asset, the sum
of its pieces' equity and of their debt. This module is the set's parser and verifier, in
the style of `por.verify`: parsed documents (or bytes) in, an `AccountClaim` out or one
`ProofSetError` naming the set check (1-3 of the spec), the element and the element's own
failed check. No file, network or clock access.

The spec's three set checks:
  1. `format` is known; `proofs` holds 1 to `MAX_PIECES` objects (and the set's own fields
     are well-formed);
  2. every element verifies as a `por-proof/1` (all five checks) against the same manifest,
     carries `account_id` and `nonce`, and its `snapshot_id` and `account_id` are the set's;
  3. the elements' `leaf.tag`s are pairwise distinct (so no piece is counted twice).

Record `ProofSet`
  Fields: snapshot_id, account_id, proofs (the pieces, each a parsed `InclusionProof`).
  Guarantees (once parsed): set check 1 held and every element is a well-formed proof
    (element check 1); 1 <= len(proofs) <= MAX_PIECES. Not yet verified.
  Updates / deletion: none; a set belongs to one account and one snapshot.

Record `AccountClaim`
  Fields: snapshot_id, account_id, assets (symbols), equity and debt (per asset, the sums
    over the pieces, exact ints), pieces (how many leaves), root (the node they fold to).
  Guarantees: built only by the verifier once every check held; each sum is below 2^128
    (distinct leaves of one tree never add up to more than its root).
  Updates / deletion: none.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from por._canonical import canonical_json
from por._fields import (
    FieldError,
    describe,
    read_keys,
    read_list,
    read_object,
    read_text,
)
from por._input import has_lone_surrogate, load_json
from por.errors import ManifestError, NotJSONError, ProofError, ProofSetError
from por.manifest import Manifest, verify_manifest
from por.model import Node
from por.proof import InclusionProof, parse_proof, proof_to_json
from por.verify import verify_inclusion, verify_proof

__all__ = [
    "MAX_PIECES",
    "PROOF_SET_FORMAT",
    "AccountClaim",
    "ProofDocument",
    "ProofSet",
    "is_proof_set",
    "parse_proof_document",
    "parse_proof_document_bytes",
    "parse_proof_set",
    "parse_proof_set_bytes",
    "proof_document_bytes",
    "prefixed",
    "proof_set_to_json",
    "verify_proof_set",
    "verify_set_inclusion",
]

PROOF_SET_FORMAT = "por-proof-set/1"
MAX_PIECES = 256  # elements of one set (the spec's bound)

_SET_PREFIX = "por-proof-set/"
_SET_KEYS = frozenset({"format", "snapshot_id", "account_id", "proofs"})


@dataclass(frozen=True, slots=True)
class ProofSet:
    """A well-formed (not yet verified) proof set; see the module docstring."""

    snapshot_id: str
    account_id: str
    proofs: tuple[InclusionProof, ...]


@dataclass(frozen=True, slots=True)
class AccountClaim:
    """What a verified proof set establishes about its account; see the module docstring."""

    snapshot_id: str
    account_id: str
    assets: tuple[str, ...]
    equity: tuple[int, ...]
    debt: tuple[int, ...]
    pieces: int
    root: Node


ProofDocument = InclusionProof | ProofSet


def prefixed(exc: ProofError, where: str) -> ProofError:
    """The same failure (same type, checks and element) with `where: ` before its detail,
    e.g. the file or the hour it is about."""
    if isinstance(exc, ProofSetError):
        return ProofSetError(exc.set_check, f"{where}: {exc.detail}", exc.check, exc.element)
    return ProofError(exc.check, f"{where}: {exc.detail}")


def _piece_error(index: int, exc: ProofError) -> ProofSetError:
    """Set check 2 failed because element `index` failed one of its own five checks."""
    return ProofSetError(2, f"proofs[{index}]: {exc}", exc.check, index)


def _parse(data: Any) -> ProofSet:
    try:
        top = read_object(data, "proof set")
        if "format" not in top:
            raise FieldError("proof set: missing field 'format'")
        if top["format"] != PROOF_SET_FORMAT:
            raise FieldError(
                f"format: expected {PROOF_SET_FORMAT!r}, got {describe(top['format'])}"
            )
        read_keys(top, "proof set", _SET_KEYS)
        snapshot_id = read_text(top["snapshot_id"], "snapshot_id")
        account_id = read_text(top["account_id"], "account_id")
        items = read_list(top["proofs"], "proofs", 1, MAX_PIECES)
        for i, item in enumerate(items):
            read_object(item, f"proofs[{i}]")
    except FieldError as exc:
        raise ProofSetError(1, str(exc), 1) from None
    proofs = []
    for i, item in enumerate(items):
        try:
            proofs.append(parse_proof(item))
        except ProofError as exc:
            raise _piece_error(i, exc) from None
    return ProofSet(snapshot_id=snapshot_id, account_id=account_id, proofs=tuple(proofs))


def parse_proof_set(data: Any) -> ProofSet:
    """A decoded JSON value as a proof set; raises `ProofSetError` (set check 1, or set
    check 2 naming the element that is not a well-formed `por-proof/1`)."""
    return _parse(data)


def _text_only(data: Any) -> Any:
    """`data` unless a string in it is not UTF-8 text (`NotJSONError`: unusable input)."""
    if has_lone_surrogate(data):
        raise NotJSONError("proof set: not UTF-8 text: a string holds a lone surrogate")
    return data


def parse_proof_set_bytes(raw: bytes) -> ProofSet:
    """Set file bytes as a proof set.

    `NotJSONError` if not JSON, or if a string holds a lone surrogate (not UTF-8 text:
    unusable input, as the spec says); else as `parse_proof_set`.
    """
    return _parse(_text_only(load_json(raw, "proof set")))


def is_proof_set(data: Any) -> bool:
    """Whether a decoded JSON value claims to be a proof set (any `por-proof-set/` version)."""
    if not isinstance(data, dict):
        return False
    value = data.get("format")
    return isinstance(value, str) and value.startswith(_SET_PREFIX)


def parse_proof_document(data: Any) -> ProofDocument:
    """A decoded JSON value as a proof set or a single proof, by its `format`.

    Anything that does not claim to be a set is parsed as a `por-proof/1`, so a single
    proof (or a value that is neither) is reported exactly as `parse_proof` reports it.
    """
    return _parse(data) if is_proof_set(data) else parse_proof(data)


def parse_proof_document_bytes(raw: bytes) -> ProofDocument:
    """File bytes as a proof set or a single proof: `NotJSONError` if not JSON (or, for a
    set, if a string holds a lone surrogate), else as `parse_proof_document`."""
    data = load_json(raw, "proof")
    return _parse(_text_only(data)) if is_proof_set(data) else parse_proof(data)


def proof_document_bytes(document: Any) -> bytes:
    """A proof or proof set as handed to its account: its canonical JSON (integers and
    text only, keys sorted), laid out one value per line for a reader, newline-ended."""
    text = json.dumps(json.loads(canonical_json(document)), indent=1, ensure_ascii=False)
    return text.encode() + b"\n"


def proof_set_to_json(proof_set: ProofSet) -> dict[str, Any]:
    """The spec's JSON object for a set (the inverse of `parse_proof_set`)."""
    return {
        "format": PROOF_SET_FORMAT,
        "snapshot_id": proof_set.snapshot_id,
        "account_id": proof_set.account_id,
        "proofs": [proof_to_json(proof) for proof in proof_set.proofs],
    }


def _check_names_the_set(proof_set: ProofSet, index: int, proof: InclusionProof) -> None:
    """The identity part of set check 2: the piece carries the set's account and snapshot."""
    if proof.account_id is None or proof.nonce is None:
        raise ProofSetError(
            2,
            f"proofs[{index}]: has no account_id and nonce (a public copy): a piece of the"
            " account's set must carry them, or it cannot be tied to the account",
            2,
            index,
        )
    if proof.account_id != proof_set.account_id:
        raise ProofSetError(
            2,
            f"proofs[{index}]: is a piece of account {proof.account_id!r},"
            f" the set is for {proof_set.account_id!r}",
            2,
            index,
        )
    if proof.snapshot_id != proof_set.snapshot_id:
        raise ProofSetError(
            2,
            f"proofs[{index}]: has snapshot_id {proof.snapshot_id!r},"
            f" the set has {proof_set.snapshot_id!r}",
            5,
            index,
        )


def _claim(proof_set: ProofSet) -> AccountClaim:
    """Set check 3 (distinct tags), then the sums; the elements have passed check 2."""
    seen: dict[bytes, int] = {}
    for i, proof in enumerate(proof_set.proofs):
        first = seen.setdefault(proof.leaf.tag, i)
        if first != i:
            raise ProofSetError(
                3,
                f"proofs[{i}] has the leaf tag of proofs[{first}] ({proof.leaf.tag.hex()}):"
                " one piece would be counted twice",
                2,
                i,
            )
    head = proof_set.proofs[0]
    width = len(head.assets)
    equity = [0] * width
    debt = [0] * width
    for proof in proof_set.proofs:
        for k in range(width):
            equity[k] += proof.leaf.equity[k]
            debt[k] += proof.leaf.debt[k]
    return AccountClaim(
        snapshot_id=proof_set.snapshot_id,
        account_id=proof_set.account_id,
        assets=head.assets,
        equity=tuple(equity),
        debt=tuple(debt),
        pieces=len(proof_set.proofs),
        root=head.root,
    )


def _each_piece(proof_set: ProofSet, verify: Callable[[InclusionProof], None]) -> None:
    for i, proof in enumerate(proof_set.proofs):
        try:
            verify(proof)
        except ProofError as exc:
            raise _piece_error(i, exc) from None
        _check_names_the_set(proof_set, i, proof)


def verify_proof_set(
    proof_set: ProofSet, manifest: Manifest, public_key: bytes | None = None
) -> AccountClaim:
    """All three set checks against one manifest; returns the account's claim.

    Raises `ProofSetError`. The manifest's signature is checked once first (a manifest that
    does not verify fails set check 2 as check 5, with no element named); with
    `public_key` only that key is accepted, as in `verify_proof`.
    """
    try:
        verify_manifest(manifest, public_key)
    except ManifestError as exc:
        raise ProofSetError(2, f"manifest: {exc}", 5) from None
    key = manifest.public_key
    _each_piece(proof_set, lambda proof: verify_proof(proof, manifest, key))
    return _claim(proof_set)


def _same_tree(proof_set: ProofSet) -> None:
    """Without a manifest, "against the same manifest" is: one root, height and asset list."""
    head = proof_set.proofs[0]
    for i, proof in enumerate(proof_set.proofs[1:], start=1):
        same = (
            proof.assets == head.assets
            and len(proof.path) == len(head.path)
            and hmac.compare_digest(proof.root.hash, head.root.hash)
            and proof.root == head.root
        )
        if not same:
            raise ProofSetError(
                2,
                f"proofs[{i}]: its root, height or assets differ from proofs[0]'s:"
                " the pieces are not of one tree",
                5,
                i,
            )


def verify_set_inclusion(proof_set: ProofSet) -> AccountClaim:
    """The set checks that need no manifest; returns the account's claim.

    Every element passes checks 2-4 and names the set's account and snapshot, all fold to
    one root (standing in for "the same manifest"), and tags are distinct. For the
    exchange's own check of a set it hands out before the hour is published; a user
    verifies with `verify_proof_set`.
    """
    _each_piece(proof_set, verify_inclusion)
    _same_tree(proof_set)
    return _claim(proof_set)
