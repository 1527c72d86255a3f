"""The builder's input error: a `por.errors.InputError` (so also a `ValueError`)."""

from __future__ import annotations

from por.errors import InputError

__all__ = ["TreeInputError"]


class TreeInputError(InputError):
    """The accounts (or leaves) cannot form a valid tree; raised before anything is written.

    Covers duplicate account ids, duplicate tags, amounts outside [0, 2^128), vectors of
    the wrong length, more than 2^32 leaves and per-asset totals that would overflow a u128
    sum.
    """
