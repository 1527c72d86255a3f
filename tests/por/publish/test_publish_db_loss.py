"""The ledger's database going away in the middle of the cut (issue 19, bad input): the
hour fails with one clear line, nothing of it is published, and `por schedule` retries it
after `retry_s` and publishes it then, every bundle verifying.

PostgreSQL only: the connection of the cut's transaction is killed from another session
with `pg_terminate_backend`, right before the cut's claims statement runs (after the cut
has read the ledger's head and its assets in the same REPEATABLE READ transaction), which
is what an operator sees when the server restarts or a network link drops mid-hour. Or
once the claims' stream is open (its server-side cursor declared, no row fetched yet): the
error then comes from a fetch, mid-stream, and must reach the hour as the same one line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from por.publish.scheduler import JsonLog, ScheduleConfig, run_schedule
from tests.por.publish.checks import check_publication, files_under
from tests.por.publish.publish_world import DELAY, START, FakeClock, World, iso

HOURS = [iso(START + timedelta(hours=h)) for h in range(2)]


# Where the connection dies: before the cut's first statement on the claims runs, or after
# the streamed claims statement has declared its cursor (its rows not fetched yet).
MOMENTS = {
    "before_claims": ("before_cursor_execute", "FROM claims"),
    "claims_streaming": ("after_cursor_execute", "GROUP BY account ORDER BY account"),
}


class CutKiller:
    """Arms a listener on the ledger's engine that terminates the connection running the
    cut's claims statement (at `moment`), once, from a second session."""

    def __init__(self, engine: sa.Engine, url: str, moment: str) -> None:
        self.engine = engine
        self.admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.killed: list[int] = []
        self.event, self.marker = MOMENTS[moment]
        sa.event.listen(engine, self.event, self._before)

    def _before(self, conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if self.killed or self.marker not in statement:
            return
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with self.admin.connect() as admin:
            assert admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        self.killed.append(pid)

    def close(self) -> None:
        sa.event.remove(self.engine, self.event, self._before)
        self.admin.dispose()


@pytest.fixture(params=sorted(MOMENTS))
def killer(pg_world: World, pg_url: str, request: pytest.FixtureRequest) -> Iterator[CutKiller]:
    k = CutKiller(pg_world.ledger.engine, pg_url, request.param)
    yield k
    k.close()


@pytest.fixture
def pg_world(tmp_path: Path, anvil: Any, pg_url: str) -> World:
    return World(tmp_path, pg_url, pg_url, anvil.url)


def test_the_database_going_away_mid_cut_fails_the_hour_in_one_line_and_the_schedule_retries(
    pg_world: World, killer: CutKiller
) -> None:
    world = pg_world
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    publisher = world.publisher(clock)
    stream = io.StringIO()
    log = JsonLog(clock.now, stream)
    publisher.emit = log
    config = ScheduleConfig(delay=DELAY, since=START, until=START + timedelta(hours=1), retry_s=120)

    assert run_schedule(publisher, clock, config, log) == 2
    assert len(killer.killed) == 1, "the cut's connection was killed once, mid-cut"

    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = [e for e in events if e["event"] == "publish_failed"]
    assert len(failed) == 1, f"one failed attempt: {failed}"
    error = failed[0]["error"]
    assert "\n" not in error and "terminat" in error.lower(), f"one clear line: {error!r}"
    assert "Traceback" not in stream.getvalue()
    assert clock.slept[0] == 120, "retried after retry_s, not at the next hour"
    first_published = next(i for i, e in enumerate(events) if e["event"] == "published")
    assert events.index(failed[0]) < first_published, "the hour published only after the retry"
    # Nothing of the failed attempt is published: exactly the two hours, each once, each
    # bundle verifying, the log holding one entry per hour; no temporary file anywhere.
    check_publication(publisher, HOURS)
    leftovers = [
        p
        for p in files_under(world.tmp / "pub" / "bundles") + files_under(world.tmp / "site")
        if ".tmp" in p.name or p.name.startswith(".")
    ]
    assert leftovers == []
