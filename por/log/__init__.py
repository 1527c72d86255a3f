"""The transparency log of published roots (RFC 9162 Merkle tree, append-only store).

Pure parts (`_rfc9162`, `proof`, `entry`, `head`) do no I/O and are what a verifier
needs; `store` keeps the log in SQLite or PostgreSQL for the publisher (import it
explicitly: it loads SQLAlchemy and pymerkle).
"""

from por.log._rfc9162 import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    mth,
    node_hash,
)
from por.log.entry import LogEntry, entry_from_manifest, parse_entry
from por.log.errors import EntryError, HeadError, LogError, LogProofError, LogStoreError
from por.log.head import HEAD_FORMAT, LogHead, check_extends, sign_head, verify_head
from por.log.log_proof import ConsistencyProof, InclusionProof

__all__ = [
    "EMPTY_ROOT",
    "HEAD_FORMAT",
    "ConsistencyProof",
    "EntryError",
    "HeadError",
    "InclusionProof",
    "LogEntry",
    "LogError",
    "LogHead",
    "LogProofError",
    "LogStoreError",
    "check_extends",
    "consistency_proof",
    "entry_from_manifest",
    "inclusion_proof",
    "leaf_hash",
    "mth",
    "node_hash",
    "parse_entry",
    "sign_head",
    "verify_head",
]
