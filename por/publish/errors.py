"""Errors of the publisher: one root, flat."""

from __future__ import annotations

from por.errors import PorError

__all__ = [
    "AnchorError",
    "BundleError",
    "LockedError",
    "NotDueError",
    "PublishConfigError",
    "PublishError",
    "RecomputedDiffersError",
]


class PublishError(PorError):
    """Root of the publisher's errors."""


class PublishConfigError(PublishError):
    """Unusable configuration or input (exit 2)."""


class LockedError(PublishError):
    """Another publisher is running."""


class NotDueError(PublishError):
    """The hour cannot be published yet (the ledger's cut is not final)."""


class BundleError(PublishError):
    """A bundle on disk does not match its manifest or its record."""


class RecomputedDiffersError(PublishError):
    """An hour that exists would be published differently now: refused (exit 1)."""


class AnchorError(PublishError):
    """The anchor transaction failed, or the chain holds another root for the hour."""
