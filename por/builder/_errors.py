"""The builder's error root.

`por/errors.py` did not exist when the builder was written, so the builder defines its own
`ValueError` subclass; callers that catch `ValueError` catch it too.
"""

from __future__ import annotations

__all__ = ["TreeInputError"]


class TreeInputError(ValueError):
    """The accounts (or leaves) cannot form a valid tree; raised before anything is written.

    Covers duplicate tags, amounts outside [0, 2^128), vectors of the wrong length,
    more than 2^32 leaves and per-asset totals that would overflow a u128 sum.
    """
