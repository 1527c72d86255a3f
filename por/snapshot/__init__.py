"""Hourly snapshots: a consistent cut of the ledger, customer leaves, the liabilities tree,
reserves at a pinned block/slot with ownership proofs, and the reconciliation report.

`por` reads the ledger only through `LedgerSource` (source.py); see docs/snapshot.md.
"""

from por.snapshot.customer_leaves import (
    NONCE_DOMAIN,
    CustomerLeaves,
    check_root_totals,
    collect_leaves,
    derive_nonce,
)
from por.snapshot.errors import SnapshotConfigError, SnapshotError, TotalsMismatchError
from por.snapshot.pieces import DEFAULT_POLICY, PiecePolicy, Pieces, split_pieces
from por.snapshot.reconcile import Reconciliation, reconcile, render_table
from por.snapshot.reserves import ReserveSetup, SnapshotReserves, read_reserves
from por.snapshot.run import (
    SnapshotIndex,
    SnapshotResult,
    parse_snapshot_time,
    read_secret,
    take_snapshot,
)
from por.snapshot.source import LedgerCut, LedgerSource

__all__ = [
    "DEFAULT_POLICY",
    "NONCE_DOMAIN",
    "CustomerLeaves",
    "LedgerCut",
    "LedgerSource",
    "PiecePolicy",
    "Pieces",
    "Reconciliation",
    "ReserveSetup",
    "SnapshotConfigError",
    "SnapshotError",
    "SnapshotIndex",
    "SnapshotReserves",
    "SnapshotResult",
    "TotalsMismatchError",
    "check_root_totals",
    "collect_leaves",
    "derive_nonce",
    "parse_snapshot_time",
    "read_reserves",
    "read_secret",
    "reconcile",
    "render_table",
    "split_pieces",
    "take_snapshot",
]
