"""Signed log heads: the exchange's signed statement "my log has `size` entries and this root".

Format `por-log-head/1` (JSON object):

    {"format": "por-log-head/1",
     "size": 17,                               # entries in the log, integer >= 0
     "root": "<64 hex>",                       # RFC 9162 MTH of those entries
     "timestamp": "2026-11-24T16:00:05Z",      # optional: when it was signed (UTC, seconds)
     "public_key": "<64 hex, Ed25519>",        # which key signed (verifiers pin keys)
     "signature": "<128 hex>"}

`signature` is Ed25519 over the canonical JSON (RFC 8785, as for manifests) of the object
without its `signature` field. Guarantees: a verifier holding an older head checks a
consistency proof to a newer one (`check_extends`); two validly signed heads that no
consistency proof joins (same size, different roots; or a failing proof) are the
exchange's own signed evidence of equivocation. Heads are never updated: a new head
replaces nothing, it extends.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from por._canonical import canonical_json
from por.keys import SignatureError, verify_signature
from por.log._rfc9162 import EMPTY_ROOT, MAX_LOG_SIZE
from por.log.errors import HeadError, LogProofError
from por.log.log_proof import ConsistencyProof
from por.manifest import LogHead

if TYPE_CHECKING:  # signing is the producer's: a verifier of heads never loads it
    from por.operator.signing import SigningKey

__all__ = [
    "HEAD_FORMAT",
    "HeadError",
    "LogHead",
    "check_extends",
    "sign_head",
    "verify_head",
]

HEAD_FORMAT = "por-log-head/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _payload(head: LogHead, public_key_hex: str) -> dict[str, Any]:
    """A log head's content as signed (`por.manifest.LogHead`, the one record of a head)."""
    doc: dict[str, Any] = {
        "format": HEAD_FORMAT,
        "size": head.size,
        "root": head.root.hex(),
        "public_key": public_key_hex,
    }
    if head.timestamp is not None:
        doc["timestamp"] = head.timestamp
    return doc


def _check_content(size: Any, root: Any, timestamp: Any) -> LogHead:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_LOG_SIZE:
        raise HeadError("log head size: expected an integer >= 0")
    if not isinstance(root, str) or not _HEX64.fullmatch(root):
        raise HeadError("log head root: expected 64 lowercase hex characters")
    if timestamp is not None and (
        not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp)
    ):
        raise HeadError("log head timestamp: expected UTC like 2026-11-24T16:00:05Z")
    root_bytes = bytes.fromhex(root)
    if size == 0 and root_bytes != EMPTY_ROOT:
        raise HeadError("log head of size 0 must have the empty root SHA-256('')")
    return LogHead(size, root_bytes, timestamp)


def sign_head(head: LogHead, key: SigningKey) -> dict[str, Any]:
    """The signed head document, ready to publish as JSON."""
    _check_content(head.size, head.root.hex(), head.timestamp)
    doc = _payload(head, key.public_key_hex)
    doc["signature"] = key.sign(canonical_json(doc)).hex()
    return doc


def verify_head(doc: Any, pinned_keys: Iterable[str]) -> LogHead:
    """Check a head's format and its signature by one of the pinned public keys."""
    if not isinstance(doc, Mapping):
        raise HeadError("log head: expected a JSON object")
    if doc.get("format") != HEAD_FORMAT:
        raise HeadError(f"log head format: expected {HEAD_FORMAT!r}, got {doc.get('format')!r}")
    head = _check_content(doc.get("size"), doc.get("root"), doc.get("timestamp"))
    public_key, signature = doc.get("public_key"), doc.get("signature")
    if not isinstance(public_key, str) or not _HEX64.fullmatch(public_key):
        raise HeadError("log head public_key: expected 64 lowercase hex characters")
    if not isinstance(signature, str) or not _HEX128.fullmatch(signature):
        raise HeadError("log head signature: expected 128 lowercase hex characters")
    pinned = [k.lower() for k in pinned_keys]
    if not any(hmac.compare_digest(public_key, k) for k in pinned):
        raise HeadError(f"log head is signed by {public_key}, which is not a pinned key")
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    try:
        verify_signature(public_key, canonical_json(unsigned), bytes.fromhex(signature))
    except SignatureError as exc:
        raise HeadError(f"log head signature: {exc}") from None
    except ValueError as exc:  # a value outside canonical JSON (float, bool, null)
        raise HeadError(f"log head: {exc}") from None
    return head


def check_extends(old: LogHead, new: LogHead, proof: ConsistencyProof | None) -> None:
    """Raise HeadError unless `new` is `old` or an append-only extension of it.

    Same size needs equal roots and no proof; a smaller new log is a rollback; an empty
    old log is extended by anything; otherwise `proof` must be RFC 9162 from old to new.
    """
    if new.size < old.size:
        raise HeadError(f"log shrank from {old.size} to {new.size} entries")
    if new.size == old.size:
        if not hmac.compare_digest(old.root, new.root):
            raise HeadError(f"equivocation: two different roots for log size {old.size}")
        return
    if old.size == 0:
        return
    if proof is None:
        raise HeadError(f"a consistency proof from {old.size} to {new.size} is needed")
    if (proof.first, proof.second) != (old.size, new.size):
        raise HeadError(
            f"consistency proof is for sizes {proof.first} to {proof.second}, "
            f"the heads are {old.size} and {new.size}"
        )
    try:
        proof.verify(old.root, new.root)
    except LogProofError as exc:
        raise HeadError(f"log heads are not consistent: {exc}") from None
