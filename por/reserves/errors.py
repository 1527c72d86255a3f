"""Errors of the reserves package: one root, a short flat hierarchy."""

from __future__ import annotations

__all__ = [
    "KeyStoreError",
    "OwnershipError",
    "ReaderError",
    "ReservesError",
    "WalletFileError",
]


class ReservesError(Exception):
    """Root of every error raised by `por.reserves`."""


class WalletFileError(ReservesError):
    """The wallet registry file is unreadable or invalid (bad address, unknown chain...)."""


class ReaderError(ReservesError):
    """Balances could not be read consistently (RPC failure, reorg, lying node, mixed slots).

    Raised only after the reader's retries are exhausted; no partial reading is returned.
    """


class KeyStoreError(ReservesError):
    """A signing key is missing, unreadable or does not match its address."""


class OwnershipError(ReservesError):
    """An ownership signature does not verify for the stated address and snapshot."""
