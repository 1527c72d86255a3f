"""Publishing an hour twice is a no-op; an hour that would come out differently now is
refused; missed hours are caught up in order with late Solana readings marked; one
publisher at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from por.leaflist import LeafListPolicy
from por.publish import (
    AnchorConfig,
    Anchorer,
    LockedError,
    NotDueError,
    PublishConfigError,
    RecomputedDiffersError,
)
from por.publish.bundle import bundle_name
from tests.por.publish.checks import check_publication, files_under
from tests.por.publish.publish_world import DELAY, START, FakeClock, World, iso


def _first_hour(world: World) -> FakeClock:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    publisher = world.publisher(clock)
    with publisher.lock():
        publisher.recover()
        assert publisher.publish_hour(START).status == "published"
    return clock


def test_publishing_an_existing_hour_again_changes_nothing(world: World) -> None:
    clock = _first_hour(world)
    bundle = world.tmp / "pub" / "bundles" / bundle_name(iso(START))
    before = {p: p.read_bytes() for p in files_under(bundle)}
    clock.sleep(600)
    publisher = world.publisher(clock)
    with publisher.lock():
        outcome = publisher.publish_hour(START, recheck=True)
    assert (outcome.status, outcome.log_size) == ("exists", 1)
    assert {p: p.read_bytes() for p in files_under(bundle)} == before, "bundle untouched"
    check_publication(publisher, [iso(START)])


def test_an_hour_that_would_be_published_differently_is_refused(world: World) -> None:
    clock = _first_hour(world)
    publisher = world.publisher(clock, secret=bytes(range(1, 33)))  # other nonces, other root
    with publisher.lock(), pytest.raises(RecomputedDiffersError, match="different tree"):
        publisher.publish_hour(START, recheck=True)
    check_publication(world.publisher(clock), [iso(START)])


def test_missed_hours_are_caught_up_in_order_and_late_solana_readings_are_marked(
    world: World,
) -> None:
    clock = _first_hour(world)
    clock.sleep(5 * 3600)  # the publisher was down for five hours
    publisher = world.publisher(clock)
    with publisher.lock():
        publisher.recover()
        outcomes = publisher.publish_due(clock.now(), DELAY)
    hours = [iso(START + timedelta(hours=h)) for h in range(6)]
    assert [o.snapshot_id for o in outcomes] == hours[1:], "oldest first, none skipped"
    manifests = check_publication(publisher, hours)
    for doc, hour in zip(manifests[1:], hours[1:], strict=True):
        eth = next(p for p in doc["reserves"] if p["chain"] == "ethereum")
        sol = next(p for p in doc["reserves"] if p["chain"] == "solana")
        assert eth["time"] <= hour == eth["requested_at"], "Ethereum: the hour's own block"
        assert sol["time"] == iso(clock.now()), "Solana: read now"
        late = sol["late_s"] > 900
        assert doc.get("late", []) == (["solana"] if late else []), "late chains are listed"
    assert manifests[1]["late"] == ["solana"], "read hours after the hour"
    assert "late" not in manifests[-1], "the current hour is on time"


def test_an_hour_whose_ledger_cut_is_not_final_is_not_published(world: World) -> None:
    clock = _first_hour(world)
    publisher = world.publisher(clock)
    with publisher.lock(), pytest.raises(NotDueError, match="has not reached"):
        publisher.publish_hour(START + timedelta(hours=1))
    assert publisher.publish_due(clock.now() + timedelta(hours=1), DELAY) == []
    check_publication(publisher, [iso(START)])


def test_hours_before_the_last_published_one_are_refused(world: World) -> None:
    clock = _first_hour(world)
    publisher = world.publisher(clock)
    with publisher.lock(), pytest.raises(PublishConfigError, match="published in order"):
        publisher.publish_hour(START - timedelta(hours=1))
    with pytest.raises(PublishConfigError, match="whole hour"):
        publisher.publish_hour(START + timedelta(minutes=30))


def test_only_one_publisher_runs_at_a_time(world: World) -> None:
    clock = FakeClock(START + DELAY, world.advance_to)
    first, second = world.publisher(clock), world.publisher(clock)
    with first.lock(), pytest.raises(LockedError, match="another publisher"), second.lock():
        pass
    with second.lock():
        pass  # released when the first one finished


def test_a_bundle_without_the_leaf_list_or_anchor_still_verifies(world: World) -> None:
    clock = FakeClock(START + timedelta(hours=1) + DELAY, world.advance_to)
    world.advance_to(clock.t)
    publisher = world.publisher(clock, leaf_list=LeafListPolicy("none"), anchor=None, site=None)
    with publisher.lock():
        publisher.publish_due(clock.now(), DELAY, since=START)
    docs = check_publication(publisher, [iso(START), iso(START + timedelta(hours=1))])
    assert sorted(docs[1]["bundle"]["files"]) == [
        "index.html",
        "reconciliation.json",
        "reserves.json",
    ]
    assert "anchor" not in docs[1]["previous"], "nothing anchored when anchoring is off"
    assert publisher.publications()[0].anchor_tx is None


ANVIL_ACCOUNT0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_the_anchor_can_be_signed_locally_with_a_private_key(world: World) -> None:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    anchor = AnchorConfig(
        world.anvil_url, world.reserve.ethereum.anchor, private_key=ANVIL_ACCOUNT0_KEY
    )
    publisher = world.publisher(clock, anchor=anchor, site=None)
    with publisher.lock():
        outcome = publisher.publish_hour(START)
    assert outcome.anchor_tx is not None
    tx = world.w3.eth.get_transaction(outcome.anchor_tx)
    assert tx["from"] == world.reserve.ethereum.deployer, "signed by the key's account"
    found = Anchorer(anchor).find(iso(START))
    assert found is not None and found[3].tx == outcome.anchor_tx
