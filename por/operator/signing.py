"""The exchange's Ed25519 signing key for manifests and log heads: the producer's side.

A key is its 32-byte seed, stored as one line of 64 hex characters, either in a file
that only its owner can read (mode 0600, refused otherwise: a key another user could
read is a key that may be copied) or in the environment variable `POR_SIGNING_KEY`
(for secret managers that inject environment). Verifiers never load these: they pin
public keys (64 hex) and call `por.keys.verify_signature`. See docs/keys.md for rotation.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from por.keys import SigningKeyError

__all__ = [
    "ENV_VAR",
    "KEY_FILE_MODE",
    "SigningKey",
    "generate",
    "load_signing_key",
    "resolve_signing_key",
    "signing_key_from_env",
    "signing_key_from_hex",
    "write_key_file",
]

ENV_VAR = "POR_SIGNING_KEY"
KEY_FILE_MODE = 0o600
SEED_BYTES = 32
_MAX_KEY_FILE_BYTES = 1024  # a seed line is 65 bytes; anything much larger is not a key


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
