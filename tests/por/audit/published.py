"""A real published site for audit tests: the publisher of issue 9 on its test world.

Three hours published by `por.publish.Publisher` with a fake clock, on a persisted ledger,
Anvil (PorAnchor, ERC-20s, Multicall3) and LiteSVM; a JSON-RPC endpoint over the LiteSVM
so `por verify reserves` reads Solana like a real node. Anvil keeps running while the
tests use it; tests copy the site before they tamper with it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from por.chain.anvil import Anvil
from por.chain.litesvm_rpc import LiteSvmRpcServer
from tests.por.publish.publish_world import DELAY, START, FakeClock, World

HOURS = 3


@dataclass
class Published:
    world: World
    site: Path
    public_key: str
    eth_rpc: str
    sol_rpc: str
    anchor: str

    def bundle(self, hour: int = 1) -> Path:
        return self.site / "snapshots" / f"2026-11-24T{hour:02d}-00-00Z"

    def copy(self, dest: Path) -> Path:
        """A copy of the site to tamper with (hard links broken: real copies)."""
        shutil.copytree(self.site, dest, copy_function=shutil.copy2)
        return dest


@contextlib.contextmanager
def published_site(tmp: Path) -> Iterator[Published]:
    with Anvil(timestamp=int((START - timedelta(hours=3)).timestamp())) as anvil:
        world = World(
            tmp, f"sqlite:///{tmp / 'ledger.db'}", f"sqlite:///{tmp / 'log.db'}", anvil.url
        )
        clock = FakeClock(START + DELAY, world.advance_to)
        world.advance_to(clock.t + timedelta(hours=HOURS - 1))
        clock.t += timedelta(hours=HOURS - 1)
        publisher = world.publisher(clock)
        with publisher.lock():
            publisher.recover()
            outcomes = publisher.publish_due(clock.now(), DELAY, since=START)
        assert len(outcomes) == HOURS, outcomes
        with LiteSvmRpcServer(world.reserve.solana.svm) as sol:
            yield Published(
                world,
                tmp / "site",
                world.key.public_key_hex,
                anvil.url,
                sol.url,
                world.reserve.ethereum.anchor,
            )
