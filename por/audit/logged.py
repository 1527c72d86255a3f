"""Is a manifest's root the one the transparency log holds for its hour?

Pure: a manifest (as parsed JSON and as a `Manifest`) and a `LogReplica` in, the entry's
index out, or `LogMismatchError` saying what differs. The manifest says the log had
`log.size` entries with root `log.root` after its hour was appended; the replica must
reproduce that root from the first `log.size` published entries, and one of them must be
this manifest's entry byte for byte.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from por.audit.errors import LogMismatchError
from por.audit.replica import LogReplica
from por.log import EntryError, entry_from_manifest
from por.manifest import Manifest

__all__ = ["check_manifest_logged"]


def check_manifest_logged(
    document: Mapping[str, Any], manifest: Manifest, replica: LogReplica
) -> int:
    """The log index of the manifest's entry; raises `LogMismatchError` on any difference."""
    sid = manifest.snapshot_id
    try:
        entry = entry_from_manifest(document)
    except EntryError as exc:
        raise LogMismatchError(f"snapshot {sid!r}: no log entry can be made: {exc}") from None
    index = replica.index_of.get(sid)
    if index is None:
        raise LogMismatchError(
            f"snapshot {sid!r} is not in the log ({replica.size} entries published)"
        )
    if not hmac.compare_digest(replica.entries[index], entry):
        raise LogMismatchError(
            f"snapshot {sid!r}: the log's entry {index} differs from the manifest's"
            " (another root, totals or assets were logged for this hour)"
        )
    size = manifest.log.size
    if index >= size:
        raise LogMismatchError(
            f"snapshot {sid!r}: its entry is number {index} in the log, but the manifest"
            f" says the log had only {size} entries after it was appended"
        )
    if size > replica.size:
        raise LogMismatchError(
            f"snapshot {sid!r}: the manifest names a log of {size} entries,"
            f" only {replica.size} are published"
        )
    root = replica.root_at(size)
    if not hmac.compare_digest(root, manifest.log.root):
        raise LogMismatchError(
            f"snapshot {sid!r}: the first {size} published entries have root {root.hex()},"
            f" the manifest says {manifest.log.root.hex()}"
        )
    return index
