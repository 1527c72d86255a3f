"""Ed25519 signing keys for manifests and log heads.

A key is its 32-byte seed, stored as one line of 64 hex characters, either in a file
that only its owner can read (mode 0600, refused otherwise: a key another user could
read is a key that may be copied) or in the environment variable `POR_SIGNING_KEY`
(for secret managers that inject environment). Verifiers never load these: they pin
public keys (64 hex) and call `verify_signature`. See docs/keys.md for rotation.
"""

from __future__ import annotations

import binascii
import errno
import functools
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from por.errors import PorError

__all__ = [
    "ENV_VAR",
    "KEY_FILE_MODE",
    "SignatureError",
    "SigningKey",
    "SigningKeyError",
    "generate",
    "load_signing_key",
    "public_key_problem",
    "resolve_signing_key",
    "signing_key_from_env",
    "signing_key_from_hex",
    "verify_signature",
    "write_key_file",
]

ENV_VAR = "POR_SIGNING_KEY"
KEY_FILE_MODE = 0o600
SEED_BYTES = 32
PUBLIC_KEY_HEX_CHARS = 64
SIGNATURE_BYTES = 64
_MAX_KEY_FILE_BYTES = 1024  # a seed line is 65 bytes; anything much larger is not a key


class SigningKeyError(PorError):
    """Root of this module's errors: a key that cannot be loaded, written or used."""


class SignatureError(SigningKeyError):
    """A signature that does not verify under the given public key."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 private key and the hex public key that names it in signed documents."""

    private: Ed25519PrivateKey

    @property
    def public_key_hex(self) -> str:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return raw.hex()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def seed_hex(self) -> str:
        """The secret itself; only for writing a key file."""
        raw = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return raw.hex()


def generate() -> SigningKey:
    """A fresh key from the operating system's randomness."""
    return SigningKey(Ed25519PrivateKey.generate())


def signing_key_from_hex(text: str, source: str) -> SigningKey:
    """Parse a hex seed; `source` names where it came from in the error (never the value)."""
    value = text.strip()
    if len(value) != 2 * SEED_BYTES:
        raise SigningKeyError(
            f"{source}: expected {2 * SEED_BYTES} hex characters (an Ed25519 seed), "
            f"got {len(value)}"
        )
    try:
        seed = bytes.fromhex(value)
    except ValueError:
        raise SigningKeyError(
            f"{source}: expected {2 * SEED_BYTES} hex characters (an Ed25519 seed)"
        ) from None
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Load a key file, refusing any mode but 0600.

    The mode is read from the opened file (fstat), so the file checked is the file read.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise SigningKeyError(f"signing key file {name}: not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SigningKeyError(
                f"signing key file {name}: is a symbolic link; point to the file itself"
            ) from None
        raise SigningKeyError(f"signing key file {name}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SigningKeyError(f"signing key file {name}: not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode != KEY_FILE_MODE:
            raise SigningKeyError(
                f"signing key file {name} has mode {mode:04o}; it must be 0600 "
                f"(readable by its owner only): run chmod 600 {name}"
            )
        data = os.read(fd, _MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"signing key file {name}: too large to be a key")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SigningKeyError(
            f"signing key file {name}: expected {2 * SEED_BYTES} hex characters (an Ed25519 seed)"
        ) from None
    return signing_key_from_hex(text, f"signing key file {name}")


def signing_key_from_env(environ: Mapping[str, str] | None = None) -> SigningKey | None:
    """The key in POR_SIGNING_KEY, or None when the variable is unset or empty."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "")
    if not value.strip():
        return None
    return signing_key_from_hex(value, f"environment variable {ENV_VAR}")


def resolve_signing_key(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> SigningKey:
    """An explicit file wins; otherwise POR_SIGNING_KEY; otherwise a clear error."""
    if path is not None:
        return load_signing_key(path)
    key = signing_key_from_env(environ)
    if key is None:
        raise SigningKeyError(f"no signing key: pass --key FILE (mode 0600) or set {ENV_VAR}")
    return key


def write_key_file(path: str | os.PathLike[str], key: SigningKey) -> None:
    """Write `key` to `path` with mode 0600, atomically, never replacing an existing file.

    The seed goes to a temporary file in the same directory (created 0600, so the secret
    is never readable by others, not even briefly), is fsynced, then hard-linked to its
    name: link fails when the name exists, so a concurrent writer cannot be overwritten.
    """
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise SigningKeyError(f"{target}: already exists; refusing to overwrite a key file")
    directory = target.parent if str(target.parent) else Path(".")
    tmp = directory / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except OSError as exc:
        raise SigningKeyError(f"{target}: cannot create key file: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, KEY_FILE_MODE)  # the umask may have removed bits; add none back
            os.write(fd, (key.seed_hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise SigningKeyError(
                f"{target}: already exists; refusing to overwrite a key file"
            ) from None
        except OSError as exc:
            raise SigningKeyError(f"{target}: cannot create key file: {exc.strerror}") from None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


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
