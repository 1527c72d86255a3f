"""`por verify tree`: rebuild a whole published leaf list and compare with its manifest.

The same verdict as the plain reference (`por.verify.verify_leaves` over
`por.leaves.read_leaves`), computed by the auditor's fast rebuild (`por.audit._leaflist`):
a million leaves in seconds instead of a minute. The manifest's signature is checked
first, so no time is spent on the leaves of a manifest that would be rejected anyway.
"""

from __future__ import annotations

import hmac
from typing import IO

from por._input import read_bounded
from por.audit._leaflist import fold_leaf_file
from por.errors import TreeError
from por.manifest import Manifest, parse_manifest_bytes, verify_manifest
from por.verify import TreeSummary

__all__ = ["STDIN", "verify_leaf_file", "verify_leaf_list"]

STDIN = "-"  # the leaf list's path that means: read it from the given stdin stream


def verify_leaf_file(
    stream: IO[bytes], manifest: Manifest, public_key: bytes | None, what: str
) -> TreeSummary:
    """The rebuilt tree's summary; `ManifestError`, or `TreeError` naming the mismatch
    (or the leaf reader's `InputError` / `NotJSONError` naming the line)."""
    verify_manifest(manifest, public_key)
    summary = fold_leaf_file(stream, manifest.symbols, what)
    if summary.height != manifest.height:
        raise TreeError(
            f"height: manifest has {manifest.height}, leaf list gives {summary.height}"
            f" ({summary.leaf_count} leaves)"
        )
    got, want = summary.root, manifest.root
    if not hmac.compare_digest(got.hash, want.hash):
        raise TreeError(
            f"root hash: leaf list gives {got.hash.hex()}, manifest has {want.hash.hex()}"
        )
    for side, mine, theirs in (("equity", got.equity, want.equity), ("debt", got.debt, want.debt)):
        for symbol, a, b in zip(manifest.symbols, mine, theirs, strict=True):
            if a != b:
                raise TreeError(f"root {side} of {symbol}: leaf list gives {a}, manifest has {b}")
    return summary


def verify_leaf_list(
    leaves_path: str, manifest_path: str, public_key: bytes | None, stdin: IO[bytes]
) -> tuple[Manifest, TreeSummary]:
    """`por verify tree`: the manifest read and its signature checked before the leaf list
    is opened (`STDIN`: read `stdin`), then `verify_leaf_file`. An unreadable manifest is
    an `InputError`, an unopenable leaf list an `OSError`."""
    manifest = parse_manifest_bytes(read_bounded(manifest_path))
    verify_manifest(manifest, public_key)
    if leaves_path == STDIN:
        return manifest, verify_leaf_file(stdin, manifest, public_key, "stdin")
    with open(leaves_path, "rb") as stream:
        return manifest, verify_leaf_file(stream, manifest, public_key, leaves_path)
