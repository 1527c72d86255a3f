"""Errors of `por.log`: one root, a flat list.

`LogProofError` says "this proof or these heads are wrong" (a verifier exits 1);
`EntryError`, `HeadError` and `LogStoreError` say what input or request was refused.
"""

from __future__ import annotations

from por.errors import PorError

__all__ = ["EntryError", "HeadError", "LogError", "LogProofError", "LogStoreError"]


class LogError(PorError, ValueError):
    """Root of every error `por.log` raises on purpose (a `PorError`, like the rest of por)."""


class LogProofError(LogError):
    """A proof that does not verify, or a request for a proof that cannot exist."""


class EntryError(LogError):
    """A manifest or entry that does not have the shape the spec fixes."""


class HeadError(LogError):
    """A head that is malformed, not signed by a pinned key, or inconsistent with another."""


class LogStoreError(LogError):
    """The store cannot do what was asked (bad index, duplicate snapshot, damaged store)."""
