"""The publisher's next hour reads only what changed: its cut merges the last published
hour's kept claims with the ledger's changes since, the bundle verifies, and recomputing
the hour in full gives the same manifest; without the previous hour's snapshot it reads
the whole cut and says why not."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from typing import Any

from por.publish.bundle import bundle_name
from por.snapshot.run import directory_name
from tests.por.publish.checks import check_publication
from tests.por.publish.publish_world import DELAY, START, FakeClock, World, iso

NEXT = START + timedelta(hours=1)


def _publish(world: World, clock: FakeClock, hour: Any, events: list[tuple[str, Any]]) -> str:
    publisher = world.publisher(clock)
    publisher.emit = lambda event, **fields: events.append((event, fields))
    with publisher.lock():
        publisher.recover()
        return publisher.publish_hour(hour).status


def _summary(world: World, hour: Any) -> dict[str, Any]:
    path = world.tmp / "pub" / "work" / directory_name(iso(hour)) / "private" / "summary.json"
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


def test_the_second_hour_is_cut_incrementally_and_its_bundle_verifies(world: World) -> None:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    events: list[tuple[str, Any]] = []
    assert _publish(world, clock, START, events) == "published"
    clock.sleep(3600)
    assert _publish(world, clock, NEXT, events) == "published"
    cuts = [fields for event, fields in events if event == "cut"]
    assert [(c["path"], c["previous"]) for c in cuts] == [
        ("full", None),
        ("incremental", directory_name(iso(START))),
    ]
    assert cuts[1]["changed"] == 3, "the three customers who deposited in the hour"
    first, second = _summary(world, START), _summary(world, NEXT)
    assert first["cut"]["path"] == "full" and first["cut"]["fallback_reason"] is None
    assert second["cut"]["path"] == "incremental"
    assert second["cut"]["since_seq"] is not None
    check_publication(world.publisher(clock), [iso(START), iso(NEXT)])
    publisher = world.publisher(clock)
    with publisher.lock():  # recomputed in full: the same tree, or RecomputedDiffersError
        assert publisher.publish_hour(NEXT, recheck=True).status == "exists"


def test_without_the_previous_hours_snapshot_the_cut_is_read_in_full(world: World) -> None:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    events: list[tuple[str, Any]] = []
    assert _publish(world, clock, START, events) == "published"
    shutil.rmtree(world.tmp / "pub" / "work" / directory_name(iso(START)))
    clock.sleep(3600)
    assert _publish(world, clock, NEXT, events) == "published"
    assert _summary(world, NEXT)["cut"]["path"] == "full"
    assert (world.tmp / "pub" / "bundles" / bundle_name(iso(NEXT))).is_dir()
    check_publication(world.publisher(clock), [iso(START), iso(NEXT)])
