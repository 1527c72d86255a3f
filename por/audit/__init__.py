"""Audit tooling: what auditors and users run against what an exchange published.

Submodules (import the one you need; this package imports nothing, so `por verify proof`
stays fast): `batch` (many proofs, one account across hours), `replica` (the log rebuilt
from its published entries), `logged` (a manifest's root is the logged one), `monitor`
(`por verify log`: remembered heads, equivocation), `bundle` (`por verify bundle`),
`reserves` (`por verify reserves`: balances re-read from the auditor's own nodes),
`history` (`por verify history`: every bundle and the whole log of a site), `source` (a
published site read from a directory or over HTTPS).
"""

from __future__ import annotations

__all__ = ["batch", "bundle", "history", "logged", "monitor", "replica", "reserves", "source"]
