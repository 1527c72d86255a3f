"""A day of hourly publications with a fake clock: the scheduler wakes at HH:05, every
hour is published once and in order, every bundle verifies, the log is consistent, each
hour is anchored on chain, and no account id or nonce is published anywhere."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from por.publish.anchor import Anchorer
from por.publish.scheduler import JsonLog, ScheduleConfig, run_schedule
from por.snapshot import SnapshotIndex
from tests.por.publish.checks import check_publication, files_under, scan_for
from tests.por.publish.publish_world import DELAY, SECRET, START, FakeClock, World, iso

HOURS = [iso(START + timedelta(hours=h)) for h in range(24)]


def _run_day(world: World) -> tuple[FakeClock, io.StringIO, Path]:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    publisher = world.publisher(clock)
    stream = io.StringIO()
    health = world.tmp / "health.json"
    config = ScheduleConfig(
        delay=DELAY, since=START, until=START + timedelta(hours=23), health=health
    )
    log = JsonLog(clock.now, stream)
    publisher.emit = log
    published = run_schedule(publisher, clock, config, log)
    assert published == 24
    return clock, stream, health


def test_a_day_of_hours_is_published_once_each_verifies_and_is_anchored(world: World) -> None:
    clock, stream, health = _run_day(world)
    publisher = world.publisher(clock)
    manifests = check_publication(publisher, HOURS)
    assert all(s == 3600 for s in clock.slept), f"woke once per hour: {clock.slept}"
    assert clock.now() == START + timedelta(hours=23) + DELAY
    anchorer = Anchorer(world.config().anchor)  # type: ignore[arg-type]
    for pub in publisher.publications():
        found = anchorer.find(pub.snapshot_id)
        assert found is not None, f"{pub.snapshot_id} is anchored"
        size, root, mhash, record = found
        assert (size, root.hex(), mhash.hex(), record.tx) == (
            pub.log_size,
            pub.log_root,
            pub.manifest_sha256,
            pub.anchor_tx,
        )
    for doc, hour in zip(manifests, HOURS, strict=True):
        eth = next(p for p in doc["reserves"] if p["chain"] == "ethereum")
        assert eth["requested_at"] == hour and eth["time"] <= hour, "the hour's block"
        assert doc["cut"]["time"] < hour, "the cut is the ledger before the hour"
        assert "late" not in doc, "published on time: nothing late"
    state = json.loads(health.read_text())
    assert (state["status"], state["last_published"], state["log_size"]) == ("ok", HOURS[-1], 24)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["snapshot_id"] for e in events if e["event"] == "published"] == HOURS
    assert all({"ts", "level", "event"} <= set(e) for e in events), "structured log lines"


def test_no_account_id_or_nonce_appears_in_any_bundle_or_site_file(world: World) -> None:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t + timedelta(hours=2))
    clock.t += timedelta(hours=2)
    publisher = world.publisher(clock)
    with publisher.lock():
        publisher.recover()
        outcomes = publisher.publish_due(clock.now(), DELAY, since=START)
    assert [o.snapshot_id for o in outcomes] == HOURS[:3]
    needles: list[bytes] = [SECRET.hex().encode()]
    for snap in sorted((world.tmp / "pub" / "work").iterdir()):
        index = SnapshotIndex(snap)
        ids = list(index.account_ids())
        assert len(ids) >= 3, "the scan looks for real accounts"
        for account in ids:
            needles += [account.encode(), index.nonce(account).hex().encode(), index.nonce(account)]
    files = files_under(world.tmp / "pub" / "bundles") + files_under(world.tmp / "site")
    assert len(files) > 20
    assert scan_for(files, needles) == []


@pytest.mark.usefixtures("anvil")
def test_a_day_publishes_the_same_way_on_postgresql(
    tmp_path: Path, anvil: object, pg_url: str
) -> None:
    world = World(tmp_path, pg_url, pg_url, anvil.url)  # type: ignore[attr-defined]
    clock, _, _ = _run_day(world)
    check_publication(world.publisher(clock), HOURS)


def test_the_scheduler_waits_for_a_ledger_that_lags_behind_the_hour(world: World) -> None:
    lag = timedelta(minutes=10)  # the ledger's clock is 10 minutes behind the wall clock
    clock = FakeClock(START + DELAY, lambda t: world.advance_to(t - lag))
    world.advance_to(clock.t - lag)
    publisher = world.publisher(clock)
    stream = io.StringIO()
    log = JsonLog(clock.now, stream)
    publisher.emit = log
    config = ScheduleConfig(delay=DELAY, since=START, until=START + timedelta(hours=2), retry_s=600)
    assert run_schedule(publisher, clock, config, log) == 3
    check_publication(publisher, HOURS[:3])
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events].count("not_final") >= 3, "waited at each hour"
    assert not [e for e in events if e["level"] == "error"], "a lagging ledger is not an error"
    assert 600 in clock.slept, "retried after retry_s"
