"""One published hour on Anvil + LiteSVM (the publish world) for the watch to follow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from por.chain.anvil import Anvil
from por.chain.litesvm_rpc import LiteSvmRpcServer
from tests.por.publish.publish_world import DELAY, START, FakeClock, World


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    with Anvil(timestamp=int((START - timedelta(hours=3)).timestamp())) as node:
        yield node


@pytest.fixture
def published(tmp_path: Path, anvil: Anvil) -> Iterator[tuple[World, FakeClock, str]]:
    """A world whose first hour is published to tmp/site; and a Solana RPC on its LiteSVM."""
    world = World(
        tmp_path,
        f"sqlite:///{tmp_path / 'ledger.db'}",
        f"sqlite:///{tmp_path / 'log.db'}",
        anvil.url,
    )
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    publisher = world.publisher(clock)
    with publisher.lock():
        publisher.recover()
        assert publisher.publish_hour(START).status == "published"
    with LiteSvmRpcServer(world.reserve.solana.svm) as sol:
        yield world, clock, sol.url
