"""Equivocation: an exchange that shows two different roots for one hour is caught by the
log's consistency check (library level; `por verify log` is the CLI over the same
functions), and cannot anchor a second root for the hour on chain."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from por.log import store as log_store
from por.log.entry import entry_from_manifest
from por.log.errors import HeadError
from por.log.head import LogHead, check_extends
from por.publish import Anchorer, AnchorError
from tests.por.publish.publish_world import DELAY, START, FakeClock, World


def _published(world: World, hours: int) -> list[dict[str, object]]:
    clock = FakeClock(START + timedelta(hours=hours - 1) + DELAY, world.advance_to)
    world.advance_to(clock.t)
    publisher = world.publisher(clock)
    with publisher.lock():
        publisher.publish_due(clock.now(), DELAY, since=START)
    return [json.loads(p.manifest) for p in publisher.publications()]


def _forked_log(
    tmp: Path, manifests: list[dict[str, object]], lie_at: int
) -> log_store.TransparencyLog:
    """The same hours, but hour `lie_at` with another root (e.g. one customer left out)."""
    log = log_store.TransparencyLog.open(f"sqlite:///{tmp / 'forked.db'}")
    for i, doc in enumerate(manifests):
        entry = dict(doc)
        if i == lie_at:
            tree = json.loads(json.dumps(doc["tree"]))
            tree["root"]["hash"] = "00" * 32
            entry["tree"] = tree
        log.append(entry_from_manifest(entry))
    return log


def test_two_roots_for_one_hour_fail_the_consistency_check(world: World, tmp_path: Path) -> None:
    manifests = _published(world, 4)
    honest = world.publisher(FakeClock(START)).db
    with honest.connect() as conn:
        real = log_store.state(conn)
    # a verifier who saw hour 2 (log size 3) holds that manifest's log head
    seen = manifests[2]["log"]
    assert isinstance(seen, dict)
    old = LogHead(seen["size"], bytes.fromhex(seen["root"]))
    forked = _forked_log(tmp_path, manifests, lie_at=1)
    shown = forked.state()
    assert shown.size == real.size and shown.root != real.root
    proof = forked.prove_consistency(old.size, shown.size)
    with pytest.raises(HeadError, match="not consistent"):
        check_extends(old, LogHead(shown.size, shown.root), proof)
    with pytest.raises(HeadError, match="equivocation"):
        check_extends(LogHead(real.size, real.root), LogHead(shown.size, shown.root), None)
    with honest.connect() as conn:
        good = log_store.prove_consistency(conn, old.size, real.size)
    check_extends(old, LogHead(real.size, real.root), good)  # the honest log passes


def test_a_second_root_for_a_published_hour_cannot_be_anchored(world: World) -> None:
    manifests = _published(world, 1)
    anchorer = Anchorer(world.config().anchor)  # type: ignore[arg-type]
    log = manifests[0]["log"]
    assert isinstance(log, dict)
    with pytest.raises(AnchorError, match="not the published values"):
        anchorer.ensure(str(manifests[0]["snapshot_id"]), log["size"], b"\x00" * 32, b"\x01" * 32)
    with pytest.raises(AnchorError, match="refused it: AlreadyPublished"):
        anchorer.send(str(manifests[0]["snapshot_id"]), log["size"] + 1, b"\x00" * 32, b"\x01" * 32)
