"""The error hierarchy of `por`: one root, a short flat list of leaves.

Callers tell "this input cannot be read" (exit 2 at the CLI) from "this proof, manifest or
leaf list is wrong" (exit 1). Messages say what was expected and what was found.
"""

from __future__ import annotations

__all__ = [
    "CHECK_NAMES",
    "SET_CHECK_NAMES",
    "InputError",
    "ManifestError",
    "NotJSONError",
    "PorError",
    "ProofError",
    "ProofSetError",
    "TreeError",
]

# The five checks of `proof-format.md`, "Verification, all of which must hold".
CHECK_NAMES: dict[int, str] = {
    1: "well-formed",
    2: "tag",
    3: "index",
    4: "path to root",
    5: "manifest",
}

# The three checks of a proof set (`proof-format.md`, "Pieces: one account in several leaves").
SET_CHECK_NAMES: dict[int, str] = {
    1: "well-formed set",
    2: "every piece",
    3: "distinct pieces",
}


class PorError(Exception):
    """Root of every error `por` raises on purpose."""


class InputError(PorError, ValueError):
    """Input that cannot be used at all: bad builder input, unreadable or oversized files."""


class NotJSONError(InputError):
    """Bytes that are not JSON text (or not UTF-8): nothing to verify."""


class ProofError(PorError):
    """An inclusion proof fails one of the spec's five checks.

    `check` is the number of the failed check (1-5, see `CHECK_NAMES`); `detail` says what
    was expected and what was found.
    """

    def __init__(self, check: int, detail: str) -> None:
        if check not in CHECK_NAMES:
            raise ValueError(f"unknown proof check number: {check}")
        self.check = check
        self.detail = detail
        super().__init__(f"check {check} ({CHECK_NAMES[check]}) failed: {detail}")


class ProofSetError(ProofError):
    """A proof set (`por-proof-set/1`) fails one of the spec's three set checks.

    `set_check` is the set check that failed (1-3, see `SET_CHECK_NAMES`); `element` the
    index in `proofs` of the piece at fault (None when the set as a whole is). `check`
    stays a proof check number (1-5), so code that reports `ProofError.check` keeps
    working: the piece's own failed check, else the nearest one (1 for a malformed set,
    2 for a piece that names no or another account or repeats a tag, 5 for another
    snapshot).
    """

    def __init__(self, set_check: int, detail: str, check: int, element: int | None = None) -> None:
        if set_check not in SET_CHECK_NAMES:
            raise ValueError(f"unknown proof set check number: {set_check}")
        super().__init__(check, detail)
        self.set_check = set_check
        self.element = element
        self.args = (f"set check {set_check} ({SET_CHECK_NAMES[set_check]}) failed: {detail}",)


class ManifestError(PorError):
    """A manifest is malformed, or its signature does not verify under the expected key."""


class TreeError(PorError):
    """A published leaf list does not rebuild the tree the manifest commits to."""
