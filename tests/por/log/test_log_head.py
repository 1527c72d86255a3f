"""Signed log heads (por-log-head/1): signing, pinning, tampering, extension checks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from por._canonical import canonical_json
from por.log import (
    EMPTY_ROOT,
    ConsistencyProof,
    HeadError,
    LogHead,
    check_extends,
    leaf_hash,
    sign_head,
    verify_head,
)
from por.log._rfc9162 import consistency_proof_reference, mth_reference
from por.operator.signing import generate

KEY = generate()
ROOT = hashlib.sha256(b"some root").digest()


def _signed(**changes: Any) -> dict[str, Any]:
    doc = sign_head(LogHead(17, ROOT, "2026-11-24T16:00:05Z"), KEY)
    return doc | changes


def test_a_signed_head_verifies_under_its_pinned_key() -> None:
    doc = _signed()
    assert set(doc) == {"format", "size", "root", "timestamp", "public_key", "signature"}
    assert doc["format"] == "por-log-head/1" and doc["public_key"] == KEY.public_key_hex
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    assert KEY.sign(canonical_json(unsigned)).hex() == doc["signature"], "signs canonical JSON"
    assert verify_head(doc, [KEY.public_key_hex]) == LogHead(17, ROOT, "2026-11-24T16:00:05Z")


def test_the_timestamp_is_optional() -> None:
    doc = sign_head(LogHead(0, EMPTY_ROOT), KEY)
    assert "timestamp" not in doc
    assert verify_head(doc, [KEY.public_key_hex]) == LogHead(0, EMPTY_ROOT)


def test_a_head_signed_by_an_unpinned_key_is_refused_even_if_its_signature_is_valid() -> None:
    other = generate()
    doc = sign_head(LogHead(17, ROOT), other)
    with pytest.raises(HeadError, match="which is not a pinned key"):
        verify_head(doc, [KEY.public_key_hex])
    assert verify_head(doc, [KEY.public_key_hex, other.public_key_hex]).size == 17, "rotation"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"size": 18}, "signature does not verify"),
        ({"root": hashlib.sha256(b"other").hexdigest()}, "signature does not verify"),
        ({"timestamp": "2026-11-24T17:00:05Z"}, "signature does not verify"),
        ({"extra": "x"}, "signature does not verify"),
        ({"format": "por-log-head/2"}, "format: expected 'por-log-head/1'"),
        ({"size": -1}, "size: expected an integer >= 0"),
        ({"size": True}, "size: expected an integer >= 0"),
        ({"root": "AB" * 32}, "root: expected 64 lowercase hex"),
        ({"timestamp": "yesterday"}, "timestamp: expected UTC"),
        ({"signature": "00" * 63}, "signature: expected 128 lowercase hex"),
        ({"extra": 1.5}, "float is not allowed"),
    ],
)
def test_tampered_or_malformed_heads_are_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(HeadError, match=reason):
        verify_head(_signed(**changes), [KEY.public_key_hex])


def test_an_empty_log_head_must_carry_the_empty_root() -> None:
    with pytest.raises(HeadError, match="size 0 must have the empty root"):
        sign_head(LogHead(0, ROOT), KEY)


def test_check_extends_accepts_growth_and_catches_rollback_and_forks() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(9)]
    old, new = LogHead(5, mth_reference(leaves[:5])), LogHead(9, mth_reference(leaves))
    proof = ConsistencyProof(5, 9, tuple(consistency_proof_reference(leaves, 5)))
    check_extends(old, new, proof)
    check_extends(old, old, None)
    check_extends(LogHead(0, EMPTY_ROOT), new, None)
    with pytest.raises(HeadError, match="log shrank from 9 to 5 entries"):
        check_extends(new, old, proof)
    with pytest.raises(HeadError, match="a consistency proof from 5 to 9 is needed"):
        check_extends(old, new, None)
    with pytest.raises(HeadError, match="proof is for sizes 5 to 9, the heads are 4 and 9"):
        check_extends(LogHead(4, mth_reference(leaves[:4])), new, proof)
    forked = LogHead(9, mth_reference([*leaves[:6], leaf_hash(b"fork"), *leaves[7:]]))
    with pytest.raises(HeadError, match="not consistent"):
        check_extends(old, forked, proof)
