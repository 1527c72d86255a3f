"""Crash-safe file primitives: write to a temporary name, fsync, rename, fsync the directory.

A reader (or a restart after a kill) sees a file complete or absent, never half written.
Every fsync and rename passes a crash point (`_crash`), so the crash test can stop the
process exactly there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from por.operator.fsync import fsync_dir, fsync_path
from por.publish._crash import crashpoint

__all__ = [
    "fsync_dir",
    "fsync_file",
    "link_or_copy",
    "rename_into_place",
    "sha256_file",
    "write_atomic",
]

_CHUNK = 1 << 20


def fsync_file(path: Path) -> None:
    fsync_path(path)
    crashpoint("fsync")


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically (temp file in the same directory, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        crashpoint("fsync")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    crashpoint("rename")


def rename_into_place(src: Path, dst: Path) -> None:
    """Rename a finished directory or file to its public name and make the rename durable."""
    os.rename(src, dst)
    fsync_dir(dst.parent)
    crashpoint("rename")


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (instant, no second copy of a 150 MB leaf list), else copy and fsync."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        fsync_file(dst)


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
