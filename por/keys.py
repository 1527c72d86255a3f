"""Ed25519 public keys as a verifier checks them: the weak-key check and signatures.

Pure and I/O-free, for the verifier kernel (`por.manifest`, log heads): a public key is
64 hex characters pinned by the verifier or read from a signed document, refused when it
cannot be an honest key (`public_key_problem`) before any signature is looked at. The
exchange's private signing key, its key files and `POR_SIGNING_KEY` are `por.operator.signing`'s.
"""

from __future__ import annotations

import binascii
import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from por.errors import PorError

__all__ = [
    "SignatureError",
    "SigningKeyError",
    "public_key_problem",
    "verify_signature",
]

PUBLIC_KEY_HEX_CHARS = 64
SIGNATURE_BYTES = 64


class SigningKeyError(PorError):
    """Root of the key errors (here and in `por.operator.signing`): a key that cannot be loaded,
    written or used."""


class SignatureError(SigningKeyError):
    """A signature that does not verify under the given public key."""


# -- weak public keys ---------------------------------------------------------------------
# Edwards25519 (RFC 8032 section 5.1): -x^2 + y^2 = 1 + d x^2 y^2 over GF(p).
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
_IDENTITY = (0, 1, 1, 0)  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z

_Point = tuple[int, int, int, int]


def _add(a: _Point, b: _Point) -> _Point:
    """Point addition in extended coordinates (RFC 8032 section 5.1.4; complete formula)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: _Point) -> _Point:
    result = _IDENTITY
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _is_identity(point: _Point) -> bool:
    x, y, z, _t = point
    return x % _P == 0 and (y - z) % _P == 0


@functools.lru_cache(maxsize=64)
def public_key_problem(raw: bytes) -> str | None:
    """Why `raw` cannot be an honest Ed25519 public key, or None when it can be one.

    Cofactorless verification (OpenSSL's) accepts signatures under weak keys that prove
    nothing: under the identity point `01 00..00`, R = identity and S = 0 "signs" every
    message. An honest key is [a]B, a multiple of the base point, so it is canonically
    encoded (y < p; not x = 0 with the sign bit set), on the curve, not of small order
    ([8]A is not the identity) and in the prime-order subgroup ([L]A is the identity).
    Anything else is refused: small-order, non-canonical, off-curve and mixed-order keys.
    Cached: a batch checks one manifest key once, not once per proof.
    """
    if len(raw) != 32:
        return f"expected 32 bytes, got {len(raw)}"
    encoded = int.from_bytes(raw, "little")
    sign, y = encoded >> 255, encoded & ((1 << 255) - 1)
    if y >= _P:
        return "not canonical (its y coordinate is not below 2^255 - 19)"
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x2 = u * pow(v, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return "not a point of the Ed25519 curve"
    if x == 0 and sign:
        return "not canonical (x = 0 with the sign bit set)"
    if x & 1 != sign:
        x = _P - x
    point = (x, y, 1, x * y % _P)
    if _is_identity(_multiply(8, point)):
        return "a point of small order (a weak key: it would verify forged signatures)"
    if not _is_identity(_multiply(_L, point)):
        return "not in the prime-order subgroup (a point with a small-order component)"
    return None


def verify_signature(public_key_hex: str, message: bytes, signature: bytes) -> None:
    """Ed25519 verification against a hex public key; raises SignatureError.

    Weak keys (`public_key_problem`) are refused before any signature is looked at.
    """
    if len(public_key_hex) != PUBLIC_KEY_HEX_CHARS:
        raise SignatureError(
            f"public key must be {PUBLIC_KEY_HEX_CHARS} hex characters, got {len(public_key_hex)}"
        )
    try:
        raw = binascii.unhexlify(public_key_hex)
        public = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        raise SignatureError("public key is not a valid Ed25519 key in hex") from None
    problem = public_key_problem(raw)
    if problem is not None:
        raise SignatureError(f"public key {public_key_hex}: {problem}")
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError(f"signature must be {SIGNATURE_BYTES} bytes, got {len(signature)}")
    try:
        public.verify(signature, message)
    except InvalidSignature:
        raise SignatureError("signature does not verify under the public key") from None
