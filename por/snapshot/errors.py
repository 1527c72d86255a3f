"""Errors of `por.snapshot`: one root, a short flat list.

Every error means "no snapshot": the run stops and leaves no files behind.
"""

from __future__ import annotations

__all__ = ["SnapshotConfigError", "SnapshotError", "TotalsMismatchError"]


class SnapshotError(Exception):
    """Root: the snapshot could not be taken (the message says why)."""


class SnapshotConfigError(SnapshotError):
    """Unusable input: a bad snapshot time or secret, wallets that do not match the ledger."""


class TotalsMismatchError(SnapshotError):
    """The tree's root sums differ from the ledger's own customer totals."""
