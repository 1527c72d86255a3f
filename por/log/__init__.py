"""The transparency log of published roots (RFC 9162 Merkle tree, append-only store).

Pure parts (`_rfc9162`, `proof`, `entry`, `head`) do no I/O and are what a verifier
needs; `store` keeps the log in SQLite or PostgreSQL for the publisher.
"""

from por.log._rfc9162 import EMPTY_ROOT, ProofError, leaf_hash, node_hash
from por.log.entry import EntryError, LogEntry, entry_from_manifest, parse_entry
from por.log.proof import ConsistencyProof, InclusionProof

__all__ = [
    "EMPTY_ROOT",
    "ConsistencyProof",
    "EntryError",
    "InclusionProof",
    "LogEntry",
    "ProofError",
    "entry_from_manifest",
    "leaf_hash",
    "node_hash",
    "parse_entry",
]
