"""The one interface every reserve reader implements (Ethereum RPC, Solana RPC, LiteSVM)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from por.reserves.errors import ReaderError
from por.reserves.values import Chain, ReserveReading, Wallet

__all__ = ["ReserveReader", "snapshot_unix"]


def snapshot_unix(at: datetime | None) -> int | None:
    """The snapshot time as Unix seconds (None: no time given); a naive time is refused,
    since the block or slot it pins would depend on the reader's time zone."""
    if at is None:
        return None
    if at.tzinfo is None:
        raise ReaderError(f"snapshot time {at.isoformat()} has no time zone; use UTC")
    return int(at.timestamp())


@runtime_checkable
class ReserveReader(Protocol):
    """Reads the balances of a chain's wallets at one pinned block or slot.

    `at` is the snapshot time: Ethereum readers pin the latest finalized block at or before
    it; Solana readers cannot read the past and pin the finalized slot they read, recording
    its time beside `at`. Either all balances come from one pin or ReaderError is raised.
    """

    chain: Chain

    def read(self, wallets: Sequence[Wallet], at: datetime | None = None) -> ReserveReading:
        """All balances of `wallets` (which must all be on `chain`)."""
        ...
