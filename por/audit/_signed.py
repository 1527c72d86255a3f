"""Reading a bundle's file as the bytes its signed digest covers: no check-then-read gap.

The files check hashes every file the manifest lists; the checks after it read the files
again. A file swapped in between (a server or a disk that changes it) was parsed unhashed.
Each reader here hashes exactly the bytes it hands over and compares them with the signed
SHA-256 and size, so the bytes parsed are the bytes verified.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from por._input import MAX_JSON_BYTES, read_bounded
from por.audit.errors import AuditError

__all__ = ["SignedFileError", "open_signed", "read_signed"]

_CHUNK = 1 << 20


class SignedFileError(AuditError):
    """The bytes read are not the ones the signed manifest lists (changed after the check)."""


def _compare(name: str, digest: str, size: int, want: Any) -> None:
    signed = want.get("sha256") if isinstance(want, dict) else None
    if not isinstance(signed, str) or not hmac.compare_digest(digest, signed):
        raise SignedFileError(
            f"{name}: changed after its digest was checked: the bytes read have SHA-256"
            f" {digest}, the manifest signs {signed}"
        )
    if size != want.get("bytes"):
        raise SignedFileError(
            f"{name}: changed after its digest was checked: {size} bytes read, the manifest"
            f" signs {want.get('bytes')}"
        )


def read_signed(path: Path, want: Any, limit: int = MAX_JSON_BYTES) -> bytes:
    """The file's bytes, read once, after checking them against `want` ({sha256, bytes})."""
    data = read_bounded(path, limit)
    _compare(path.name, hashlib.sha256(data).hexdigest(), len(data), want)
    return data


class _Hashing(io.RawIOBase):
    """A raw stream that hashes every byte it passes on."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        n = len(data)
        view[:n] = data
        self.digest.update(data)
        self.size += n
        return n


@contextmanager
def open_signed(path: Path, want: Any) -> Iterator[IO[bytes]]:
    """A stream of the file that, once the caller is done, has checked every byte it
    gave (and the rest of the file) against `want`."""
    with open(path, "rb") as raw:
        hashing = _Hashing(raw)
        stream = io.BufferedReader(hashing, buffer_size=_CHUNK)
        yield stream
        while stream.read(_CHUNK):
            pass
        _compare(path.name, hashing.digest.hexdigest(), hashing.size, want)
