"""`por schedule`: publish every hour at HH:00 UTC plus a finality delay, forever.

Time comes from an injectable `Clock` (now + sleep), so the tests run a day of hours in
seconds with a fake clock whose `sleep` advances time (and the ledger and chains with it).
Each wake-up: take the lock, `recover()` whatever a crash left, publish every due hour in
order (catching up missed ones), write the health file, sleep until the next hour's due
time (or `retry_s` when the ledger's cut was not final yet or a step failed).

Logs are JSON lines on stderr: {"ts", "level", "event", ...fields}. The health file (JSON,
replaced atomically) shows the last published hour, the log size, the last error and when
the next hour is due; a monitor alerts when `last_published` is older than it should be.
It also lists, under `attestation_warnings`, every cold wallet whose per-period ownership
attestation expires within a day (or has expired): the next ceremony is due.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO

from por.publish._fsio import write_atomic
from por.publish.errors import LockedError, NotDueError, PublishError
from por.publish.publisher import HOUR, Publisher, floor_hour, hour_id

__all__ = [
    "Clock",
    "JsonLog",
    "attestation_warnings",
    "ScheduleConfig",
    "SystemClock",
    "next_due",
    "run_schedule",
    "write_health",
]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: int) -> None: ...


class SystemClock:
    """The wall clock (UTC); sleeps in whole seconds."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: int) -> None:
        time.sleep(max(0, seconds))


class JsonLog:
    """Structured log: one JSON object per line (stderr by default), time from the clock."""

    def __init__(self, clock: Callable[[], datetime], stream: TextIO | None = None) -> None:
        self.clock = clock
        self.stream = stream

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        record = {"ts": hour_id(self.clock()), "level": level, "event": event, **fields}
        out = self.stream or sys.stderr
        out.write(json.dumps(record, sort_keys=False, default=str) + "\n")
        out.flush()


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """`delay`: wait after HH:00 for chain finality and late ledger events. `since`: first
    hour to publish when nothing is published yet. `until`: stop after this hour (tests,
    backfills); None runs forever. `retry_s`: wait after a failure or a cut not yet final."""

    delay: timedelta = timedelta(minutes=5)
    since: datetime | None = None
    until: datetime | None = None
    health: Path | None = None
    retry_s: int = 60


def next_due(now: datetime, delay: timedelta) -> datetime:
    """When the next hour after the ones due at `now` becomes due."""
    return floor_hour(now - delay) + HOUR + delay


def write_health(path: Path, publisher: Publisher, now: datetime, **fields: Any) -> None:
    pubs = publisher.publications()
    last = pubs[-1] if pubs else None
    doc = {
        "status": fields.pop("status", "ok"),
        "checked_at": hour_id(now),
        "last_published": None if last is None else last.snapshot_id,
        "published_at": None if last is None else last.published_at,
        "log_size": 0 if last is None else last.log_size,
        "last_anchor_tx": None if last is None else last.anchor_tx,
        **fields,
    }
    write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode())


def attestation_warnings(publisher: Publisher, now: datetime) -> list[dict[str, Any]]:
    """Cold wallets whose attestations expire within a day of `now` (none without a store)."""
    from por.reserves.attestation import expiry_warnings

    setup = publisher.config.reserves
    if setup is None or setup.attestations is None:
        return []
    try:
        return expiry_warnings(setup.registry.wallets, setup.attestations, int(now.timestamp()))
    except Exception as exc:  # an unreadable store is a warning too, never a crash
        return [{"rule": "attestations_unreadable", "message": str(exc).splitlines()[0]}]


def run_schedule(publisher: Publisher, clock: Clock, config: ScheduleConfig, log: JsonLog) -> int:
    """Run until `config.until` is published (or forever); returns hours published."""
    published = 0
    while True:
        now = clock.now()
        error: str | None = None
        caught_up = True
        try:
            with publisher.lock():
                publisher.recover()
                due = publisher.due_hours(now, config.delay, config.since)
                if config.until is not None:
                    due = [h for h in due if h <= config.until]
                for hour in due:
                    outcome = publisher.publish_hour(hour)
                    published += outcome.status == "published"
        except NotDueError as exc:
            log("not_final", reason=str(exc))
            caught_up = False
        except LockedError as exc:
            error = str(exc)
            caught_up = False
        except PublishError as exc:
            error = str(exc)
            caught_up = False
        except Exception as exc:  # a step of another package failed: log, retry later
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            caught_up = False
        pubs = publisher.publications()
        last = pubs[-1].snapshot_id if pubs else None
        wake = next_due(now, config.delay)
        if caught_up and last is not None and last < hour_id(floor_hour(now - config.delay)):
            caught_up = False  # the latest due hour's cut was not final yet
        if error is not None:
            log("publish_failed", level="error", error=error)
        warnings = attestation_warnings(publisher, now)
        for warning in warnings:
            log("attestation_expiring", level="warning", **warning)
        if config.health is not None:
            write_health(
                config.health,
                publisher,
                now,
                status="ok" if error is None else "error",
                error=error,
                next_due=hour_id(wake),
                attestation_warnings=warnings,
            )
        if config.until is not None and last is not None and last >= hour_id(config.until):
            log("schedule_done", last_published=last, published=published)
            return published
        seconds = int((wake - now).total_seconds())
        if not caught_up:
            seconds = min(seconds, config.retry_s)
        log("sleeping", seconds=max(seconds, 1), next_due=hour_id(wake))
        clock.sleep(max(seconds, 1))
