"""`por verify log`: a certificate-transparency-style monitor of one exchange's log.

It remembers the last signed log head it has accepted, per exchange, in a small state
file. On each run it fetches the site's current signed head and all entries, rebuilds the
log (`LogReplica`), and accepts the new head only if

1. it is signed by a pinned key;
2. it does not contradict the remembered head on its face (a smaller size, or another
   root for the same size: equivocation, judged from the two signed heads alone, so that
   no damage to the unsigned entries file can hide it);
3. time moves forward: it is dated no earlier than the remembered head (`LogTimeError`),
   it is fresh (at most `max_age` old, not dated in the future: `StaleHeadError`; a
   frozen or replayed head would otherwise pass every other check);
4. the published entries hash to exactly its root (else the site contradicts itself),
   and entries whose snapshot id is a UTC time move forward in time, none dated after
   the head (`LogTimeError`);
5. it extends the remembered head: the RFC 9162 consistency proof between the two sizes,
   computed from the entries, verifies against both signed roots (`por.log.check_extends`).

A head that fails 2 or 5 (a shrunk log, two roots for one size, a rewritten past) is
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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from por._input import load_json
from por.audit.errors import (
    AuditInputError,
    EquivocationError,
    LogMismatchError,
    LogTimeError,
    MonitorStateError,
    StaleHeadError,
)
from por.audit.replica import LogReplica
from por.audit.source import Site
from por.log import HeadError, LogHead, check_extends, verify_head

__all__ = [
    "DEFAULT_MAX_AGE",
    "LOG_ENTRIES_PATH",
    "LOG_HEAD_PATH",
    "MAX_CLOCK_SKEW",
    "MAX_HEAD_BYTES",
    "STATE_FORMAT",
    "MonitorResult",
    "check_entry_times",
    "load_state",
    "monitor_log",
    "read_site_entries",
    "read_site_head",
    "read_site_log",
    "save_state",
]

STATE_FORMAT = "por-monitor-state/1"
LOG_ENTRIES_PATH = "log/entries.jsonl"
LOG_HEAD_PATH = "log/head.json"
MAX_HEAD_BYTES = 64 * 1024
MAX_STATE_BYTES = 16 * 1024 * 1024
# The exchange signs a new head every hour; a head older than the cadence plus three hours
# of grace (a late or retried run) is frozen or replayed. `por verify log --max-age`.
DEFAULT_MAX_AGE = timedelta(hours=4)
# How far ahead of this machine's clock a head may be dated (clocks drift a little).
MAX_CLOCK_SKEW = timedelta(minutes=5)
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """What one run established. `status`: first (nothing remembered yet), unchanged, extended."""

    status: str
    exchange: str
    old: LogHead | None
    new: LogHead
    new_document: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_time(text: Any) -> datetime | None:
    """`text` as a UTC time if it is one (`2026-11-24T16:00:00Z`), else None."""
    if not isinstance(text, str) or _UTC_TIME.fullmatch(text) is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:  # 2026-13-45T...: shaped like a time, is not one
        return None


def _span(delta: timedelta) -> str:
    """A duration for messages: 5h 3m, 2d 4h, 40s."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


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
def read_site_head(site: Site, pinned_keys: Sequence[str]) -> tuple[dict[str, Any], LogHead]:
    """The site's signed head document, verified under a pinned key."""
    raw = site.read(LOG_HEAD_PATH, MAX_HEAD_BYTES)
    document = load_json(raw, site.describe(LOG_HEAD_PATH))
    try:
        head = verify_head(document, pinned_keys)
    except HeadError as exc:
        raise LogMismatchError(f"{site.describe(LOG_HEAD_PATH)}: {exc}") from None
    return document, head


def check_entry_times(replica: LogReplica, head: LogHead, what: str = "entries") -> None:
    """Entries whose snapshot id is a UTC time must move forward in time, and none may be
    dated after the head that signs them; `LogTimeError` naming the line otherwise.

    An hour appended after later hours is backdated: the exchange rewriting what it owed
    "then" after the fact. Snapshot ids that are not times are not judged here.
    """
    signed_at = _utc_time(head.timestamp)
    latest: tuple[datetime, str, int] | None = None
    for number, sid in enumerate(replica.index_of, start=1):  # in log order (insertion)
        when = _utc_time(sid)
        if when is None:
            continue
        if latest is not None and when <= latest[0]:
            raise LogTimeError(
                f"time order: {what} line {number}: snapshot {sid} is not after snapshot"
                f" {latest[1]} of line {latest[2]}; log entries must move forward in time"
            )
        if signed_at is not None and when > signed_at + MAX_CLOCK_SKEW:
            raise LogTimeError(
                f"time order: {what} line {number}: snapshot {sid} is dated after the"
                f" signed head ({head.timestamp}) that includes it"
            )
        latest = (when, sid, number)


def read_site_entries(site: Site, head: LogHead) -> LogReplica:
    """The log rebuilt from the site's entries; `LogMismatchError` unless they give exactly
    the signed root, `LogTimeError` unless their times move forward (`check_entry_times`)."""
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
    check_entry_times(replica, head, what)
    return replica


def read_site_log(
    site: Site, pinned_keys: Sequence[str]
) -> tuple[dict[str, Any], LogHead, LogReplica]:
    """The site's signed head (verified under a pinned key) and the log rebuilt from its
    entries; `LogMismatchError` unless the entries give exactly the signed root and move
    forward in time."""
    document, head = read_site_head(site, pinned_keys)
    return document, head, read_site_entries(site, head)


def _head_of(document: dict[str, Any]) -> LogHead:
    return verify_head(document, [str(document.get("public_key", ""))])


def _judge_heads(old_doc: dict[str, Any], new_doc: dict[str, Any]) -> tuple[LogHead, LogHead]:
    """What the two signed heads alone prove: a shrunk log or two roots for one size is
    equivocation, whatever the (unsigned) entries file holds."""
    old, new = _head_of(old_doc), _head_of(new_doc)
    if new.size < old.size:
        raise EquivocationError(
            f"the log shrank from {old.size} entries (seen before) to {new.size}", old_doc, new_doc
        )
    if new.size == old.size:
        try:
            check_extends(old, new, None)
        except HeadError as exc:
            raise EquivocationError(
                str(exc).removeprefix("equivocation: "), old_doc, new_doc
            ) from None
    return old, new


def _check_time_forward(old: LogHead, new: LogHead) -> None:
    """A head dated before the head seen before it is backdated (`LogTimeError`)."""
    before, after = _utc_time(old.timestamp), _utc_time(new.timestamp)
    if before is not None and after is not None and after < before:
        raise LogTimeError(
            f"time order: the signed head is dated {new.timestamp}, before the head seen"
            f" before it ({old.timestamp}, {old.size} entries); a log's time only moves forward"
        )


def _check_fresh(head: LogHead, now: datetime, max_age: timedelta) -> None:
    """`StaleHeadError` unless the head is dated within `max_age` before `now` (and not
    more than `MAX_CLOCK_SKEW` after it)."""
    signed_at = _utc_time(head.timestamp)
    if signed_at is None:
        raise StaleHeadError(
            "freshness: the signed head has no timestamp, so its age cannot be told"
            " (a frozen or replayed head would look current)"
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        raise StaleHeadError(
            f"freshness: the signed head is dated {head.timestamp}, {_span(signed_at - now)}"
            f" in the future (this machine's clock says {_iso(now)})"
        )
    age = now - signed_at
    if age > max_age:
        raise StaleHeadError(
            f"freshness: the signed head is dated {head.timestamp}, {_span(age)} ago;"
            f" --max-age is {_span(max_age)} (a log the exchange stopped updating, or an old"
            " head replayed)"
        )


def _judge(
    old_doc: dict[str, Any], new_doc: dict[str, Any], old: LogHead, replica: LogReplica
) -> None:
    """The consistency proof from the remembered head to the new one, from the entries."""
    new = _head_of(new_doc)
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


def monitor_log(
    site: Site,
    pinned_keys: Sequence[str],
    state_path: Path,
    *,
    exchange: str | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    clock: Callable[[], datetime] = _now,
) -> MonitorResult:
    """One monitoring run; see the module docstring. Updates the state only on success.

    `clock` is "now" for the freshness check (a simulation passes its own time)."""
    if not pinned_keys:
        raise AuditInputError("at least one pinned public key is needed")
    if max_age <= timedelta(0):
        raise AuditInputError("max_age: expected a positive duration")
    name = (exchange or pinned_keys[0]).lower()
    with _Locked(state_path):
        state = load_state(state_path)
        now = clock()
        document, head = read_site_head(site, pinned_keys)
        record = state["exchanges"].get(name)
        old = None
        if record is not None:
            old, _new = _judge_heads(record["head"], document)
            _check_time_forward(old, head)
        _check_fresh(head, now, max_age)
        replica = read_site_entries(site, head)
        if record is None or old is None:
            status = "first"
        else:
            _judge(record["head"], document, old, replica)
            status = "unchanged" if old.size == head.size else "extended"
        state["exchanges"][name] = {
            "head": document,
            "checked_at": _iso(now),
            "site": site.location,
        }
        save_state(state_path, state)
        return MonitorResult(status, name, old, head, document)
