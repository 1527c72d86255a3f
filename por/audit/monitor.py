"""`por verify log`: a certificate-transparency-style monitor of one exchange's log.

It remembers the last signed log head it has accepted, per exchange, in a small state
file. On each run it fetches the site's current signed head and all entries, rebuilds the
log (`LogReplica`), and accepts the new head only if

1. it is signed by a pinned key;
2. the published entries hash to exactly its root (else the site contradicts itself);
3. it extends the remembered head: the RFC 9162 consistency proof between the two sizes,
   computed from the entries, verifies against both signed roots (`por.log.check_extends`).

A head that fails 3 (a shrunk log, two roots for one size, a rewritten past) is
equivocation: `EquivocationError` carrying both signed heads, and the state keeps the old
head. The state file is replaced atomically (temp file, fsync, rename, fsync directory)
only after a head was accepted.

State file (JSON, `por-monitor-state/1`):
  Fields: `exchanges` maps an exchange's first pinned key (64 hex) to
    {"head": <the signed head document as received>, "checked_at": UTC time, "site": where}.
  Guarantees: every stored head verified when it was stored; written atomically.
  Updates: a head is replaced only by one that extends it. Deletion: by the auditor.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from por._input import load_json
from por.audit.errors import (
    AuditInputError,
    EquivocationError,
    LogMismatchError,
    MonitorStateError,
)
from por.audit.replica import LogReplica
from por.audit.source import Site
from por.log import HeadError, LogHead, check_extends, verify_head

__all__ = [
    "LOG_ENTRIES_PATH",
    "LOG_HEAD_PATH",
    "MAX_HEAD_BYTES",
    "STATE_FORMAT",
    "MonitorResult",
    "load_state",
    "monitor_log",
    "read_site_log",
    "save_state",
]

STATE_FORMAT = "por-monitor-state/1"
LOG_ENTRIES_PATH = "log/entries.jsonl"
LOG_HEAD_PATH = "log/head.json"
MAX_HEAD_BYTES = 64 * 1024
MAX_STATE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """What one run established. `status`: first (nothing remembered yet), unchanged, extended."""

    status: str
    exchange: str
    old: LogHead | None
    new: LogHead
    new_document: dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the state file ---------------------------------------------------------------------------
def load_state(path: Path) -> dict[str, Any]:
    """The state file's content; a missing file is an empty state."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return {"format": STATE_FORMAT, "exchanges": {}}
    except OSError as exc:
        raise MonitorStateError(f"{path}: cannot read state: {exc.strerror or exc}") from None
    if len(raw) > MAX_STATE_BYTES:
        raise MonitorStateError(f"{path}: state file too large")
    try:
        state = load_json(raw, os.fspath(path))
    except AuditInputError:
        raise
    except Exception as exc:  # NotJSONError: keep the damaged file, say so
        raise MonitorStateError(f"{path}: damaged state file: {exc}") from None
    if (
        not isinstance(state, dict)
        or state.get("format") != STATE_FORMAT
        or not isinstance(state.get("exchanges"), dict)
    ):
        raise MonitorStateError(f"{path}: not a {STATE_FORMAT} state file")
    for key, record in state["exchanges"].items():
        if not isinstance(record, dict) or not isinstance(record.get("head"), dict):
            raise MonitorStateError(f"{path}: exchange {key}: no head recorded")
        head = record["head"]
        try:  # integrity of our own record: the head still verifies under its signer
            verify_head(head, [str(head.get("public_key", ""))])
        except HeadError as exc:
            raise MonitorStateError(f"{path}: exchange {key}: stored head: {exc}") from None
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically: temp file, fsync, rename, fsync the directory."""
    directory = path.parent if str(path.parent) else Path(".")
    tmp = directory / f".{path.name}.tmp-{os.getpid()}"
    data = (json.dumps(state, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MonitorStateError(f"{path}: cannot write state: {exc.strerror or exc}") from None


class _Locked:
    """An exclusive lock on `<state>.lock`, so two monitors never interleave their updates."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self.fd = -1

    def __enter__(self) -> _Locked:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise MonitorStateError(f"{self.path}: cannot lock: {exc.strerror or exc}") from None
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self.fd)


# -- reading the site ----------------------------------------------------------------------------
def read_site_log(
    site: Site, pinned_keys: Sequence[str]
) -> tuple[dict[str, Any], LogHead, LogReplica]:
    """The site's signed head (verified under a pinned key) and the log rebuilt from its
    entries; `LogMismatchError` unless the entries give exactly the signed root."""
    raw = site.read(LOG_HEAD_PATH, MAX_HEAD_BYTES)
    document = load_json(raw, site.describe(LOG_HEAD_PATH))
    try:
        head = verify_head(document, pinned_keys)
    except HeadError as exc:
        raise LogMismatchError(f"{site.describe(LOG_HEAD_PATH)}: {exc}") from None
    what = site.describe(LOG_ENTRIES_PATH)
    replica = LogReplica.from_entries(site.lines(LOG_ENTRIES_PATH), what)
    if replica.size != head.size:
        raise LogMismatchError(
            f"{what}: holds {replica.size} entries, the signed head says {head.size}"
        )
    root = replica.root_at(head.size)
    if root != head.root:
        raise LogMismatchError(
            f"{what}: the entries' root is {root.hex()}, the signed head's is {head.root.hex()}"
        )
    return document, head, replica


def _head_of(document: dict[str, Any]) -> LogHead:
    return verify_head(document, [str(document.get("public_key", ""))])


def _judge(old_doc: dict[str, Any], new_doc: dict[str, Any], replica: LogReplica) -> LogHead:
    old, new = _head_of(old_doc), _head_of(new_doc)
    if new.size < old.size:
        raise EquivocationError(
            f"the log shrank from {old.size} entries (seen before) to {new.size}", old_doc, new_doc
        )
    proof = None
    if 0 < old.size < new.size:
        proof = replica.consistency(old.size, new.size)
    try:
        check_extends(old, new, proof)
    except HeadError as exc:
        detail = str(exc).removeprefix("equivocation: ")
        if old.size < new.size:
            mine = replica.root_at(old.size)
            detail = (
                f"the log of {new.size} entries does not extend the head of size {old.size}"
                f" seen before: its first {old.size} entries have root {mine.hex()},"
                f" the old signed head says {old.root.hex()} ({detail})"
            )
        raise EquivocationError(detail, old_doc, new_doc) from None
    return old


def monitor_log(
    site: Site,
    pinned_keys: Sequence[str],
    state_path: Path,
    *,
    exchange: str | None = None,
    clock: Callable[[], str] = _now,
) -> MonitorResult:
    """One monitoring run; see the module docstring. Updates the state only on success."""
    if not pinned_keys:
        raise AuditInputError("at least one pinned public key is needed")
    name = (exchange or pinned_keys[0]).lower()
    with _Locked(state_path):
        state = load_state(state_path)
        document, head, replica = read_site_log(site, pinned_keys)
        record = state["exchanges"].get(name)
        if record is None:
            status, old = "first", None
        else:
            old = _judge(record["head"], document, replica)
            status = "unchanged" if old.size == head.size else "extended"
        state["exchanges"][name] = {
            "head": document,
            "checked_at": clock(),
            "site": site.location,
        }
        save_state(state_path, state)
        return MonitorResult(status, name, old, head, document)
