"""Issue 17, item 4: weak Ed25519 public keys are refused wherever a key is used.

The identity point `01 00..00` with the "signature" R = identity, S = 0 verifies any
message under cofactorless Ed25519 (OpenSSL accepts it), so a manifest or log head
"signed" that way proves nothing. Every small-order point, every non-canonical encoding
and every point outside the prime-order subgroup is refused: an honest key (a multiple of
the base point) is never one of them.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from por._canonical import canonical_json
from por.builder.vectorgen import make_snapshot, random_accounts
from por.errors import InputError, ManifestError
from por.keys import SignatureError, public_key_problem, verify_signature
from por.log import HeadError, verify_head
from por.log._rfc9162 import EMPTY_ROOT
from por.manifest import (
    manifest_signed_bytes,
    parse_manifest,
    parse_public_key,
    verify_manifest,
)
from por.operator.signing import generate

IDENTITY = "01" + "00" * 31
TRIVIAL_SIGNATURE = IDENTITY + "00" * 32  # R = identity, S = 0

# The eight points of small order, in every encoding (both sign bits where x = 0 makes the
# sign bit a second, non-canonical, encoding), and encodings of y >= p.
SMALL_ORDER = {
    "identity (order 1)": IDENTITY,
    "y = 0 (order 4)": "00" * 32,
    "y = 0, other x (order 4)": "00" * 31 + "80",
    "y = -1 (order 2)": "ec" + "ff" * 30 + "7f",
    "order 8": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "order 8, other x": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "order 8 (second)": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "order 8 (second), other x": (
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"
    ),
}
NON_CANONICAL = {
    "identity with the sign bit set (x = 0)": "01" + "00" * 30 + "80",
    "y = -1 with the sign bit set (x = 0)": "ec" + "ff" * 31,
    "y = p": "ed" + "ff" * 30 + "7f",
    "y = p + 1 (the identity again)": "ee" + "ff" * 30 + "7f",
    "y = 2^255 - 1": "ff" * 31 + "7f",
}
NOT_ON_CURVE = "02" + "00" * 31  # y = 2: (y^2 - 1) / (d y^2 + 1) has no square root
# B(seed 00..1f) + the order-8 point above: a point of order 8L (a torsion component)
MIXED_ORDER = "b154bd62188ae283dd187fefe8c31f5e276edf083b4cff11c9d5cff856c74440"
HONEST = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def test_the_trivial_signature_verifies_under_the_identity_point_in_openssl() -> None:
    """Why the check exists: the library alone accepts it (if this ever fails, keep the check)."""
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(IDENTITY))
    key.verify(bytes.fromhex(TRIVIAL_SIGNATURE), b"any message at all")


@pytest.mark.parametrize("name", sorted(SMALL_ORDER))
def test_every_small_order_key_is_refused(name: str) -> None:
    problem = public_key_problem(bytes.fromhex(SMALL_ORDER[name]))
    assert problem is not None and ("small order" in problem or "not canonical" in problem), name


@pytest.mark.parametrize("name", sorted(NON_CANONICAL))
def test_every_non_canonical_encoding_is_refused(name: str) -> None:
    problem = public_key_problem(bytes.fromhex(NON_CANONICAL[name]))
    assert problem is not None and "not canonical" in problem, (name, problem)


def test_a_point_off_the_curve_and_a_mixed_order_point_are_refused() -> None:
    off = public_key_problem(bytes.fromhex(NOT_ON_CURVE))
    assert off is not None and "not a point" in off
    mixed = public_key_problem(bytes.fromhex(MIXED_ORDER))
    assert mixed is not None and "prime-order subgroup" in mixed


def test_honest_keys_are_accepted() -> None:
    assert public_key_problem(bytes.fromhex(HONEST)) is None
    for _ in range(20):
        assert public_key_problem(bytes.fromhex(generate().public_key_hex)) is None
    assert public_key_problem(b"\x01" * 31) is not None  # wrong length


def test_identity_point_key_is_refused() -> None:
    """A manifest "signed" by the identity point is malformed; pinning it is a usage error;
    a log head signed by it does not verify."""
    vector, _ = make_snapshot("2026-12-01T00:00:00Z", random_accounts(random.Random(3), 3, 4))
    forged = {k: v for k, v in vector["manifest"].items() if k != "signature"}
    forged["public_key"] = IDENTITY
    identity = Ed25519PublicKey.from_public_bytes(bytes.fromhex(IDENTITY))
    identity.verify(bytes.fromhex(TRIVIAL_SIGNATURE), manifest_signed_bytes(forged))
    forged["signature"] = TRIVIAL_SIGNATURE
    with pytest.raises(ManifestError, match="public_key: .*small order"):
        parse_manifest(forged)
    with pytest.raises(InputError, match="small order"):
        parse_public_key(IDENTITY)
    weak = dataclasses.replace(
        parse_manifest(vector["manifest"]),
        public_key=bytes.fromhex(IDENTITY),
        signature=bytes.fromhex(TRIVIAL_SIGNATURE),
    )
    with pytest.raises(ManifestError, match="small order"):
        verify_manifest(weak)
    with pytest.raises(SignatureError, match="small order"):
        verify_signature(IDENTITY, b"message", bytes.fromhex(TRIVIAL_SIGNATURE))
    head = {"format": "por-log-head/1", "size": 0, "root": EMPTY_ROOT.hex(), "public_key": IDENTITY}
    identity.verify(bytes.fromhex(TRIVIAL_SIGNATURE), canonical_json(head))
    with pytest.raises(HeadError, match="small order"):
        verify_head({**head, "signature": TRIVIAL_SIGNATURE}, [IDENTITY])
