"""Errors of `por.audit`: one root, a short flat list.

`AuditInputError` is "cannot check: the input is missing or unreadable" (exit 2);
`EquivocationError` and `LogMismatchError` are "checked, and it is wrong" (exit 1).
"""

from __future__ import annotations

from typing import Any

from por.errors import InputError, PorError

__all__ = [
    "AuditError",
    "AuditInputError",
    "EquivocationError",
    "LogMismatchError",
    "LogTimeError",
    "MonitorStateError",
    "StaleHeadError",
]


class AuditError(PorError):
    """Root of every error `por.audit` raises on purpose."""


class AuditInputError(AuditError, InputError):
    """A file, directory or URL that cannot be read or is too large: nothing was checked."""


class MonitorStateError(AuditInputError):
    """The monitor's own state file is unreadable or damaged (it is never overwritten then)."""


class LogMismatchError(AuditError):
    """A site's published log does not match what it signs or what its manifests say."""


class LogTimeError(LogMismatchError):
    """Times that do not move forward: a log entry dated before the one it follows (or
    after the head that signs it), or a head dated before the head seen before it."""


class StaleHeadError(AuditError):
    """A signed head too old to be current (older than the monitor's --max-age), dated in
    the future, or without a date: a frozen or replayed log cannot be told from a live one."""


class EquivocationError(AuditError):
    """Two signed log heads that no append-only log joins: the exchange's own evidence.

    `old` and `new` are the two signed head documents, exactly as received.
    """

    def __init__(self, detail: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.detail = detail
        self.old = old
        self.new = new
        super().__init__(f"equivocation: {detail}")
