"""The plain fsync of a file or a directory by path: the one home of what every crash-safe
writer of `por` (the snapshot, the publisher's `por.publish._fsio`) does before and after
a rename. No crash points here: the publisher adds its own around them."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_path"]


def fsync_path(path: Path | str) -> None:
    """Flush a file (or a directory: its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path | str) -> None:
    """Make the renames and creations in directory `path` durable."""
    fsync_path(path)
