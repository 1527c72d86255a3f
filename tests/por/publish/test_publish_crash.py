"""Crash safety: `por publish` is SIGKILLed at 30 random points (crash points named by
POR_CRASH_AT -- the N-th fsync/commit/rename/anchor point -- and random timing kills),
restarted each time, and finally run to completion by a real `por publish` subprocess.
Afterwards every hour the runs reached is published exactly once, every bundle verifies, the log is
consistent and each hour is anchored on chain exactly once.

The killed runs are forked children of the test process running the `por` command line
(the same code as the installed script, without paying ~2 s of imports 30 times); the
last run is the installed `por` in a fresh process.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from por.chain.litesvm_rpc import LiteSvmRpcServer
from por.operator.signing import write_key_file
from por.publish.anchor import Anchorer
from tests.por.publish.checks import check_publication
from tests.por.publish.publish_world import DELAY, SECRET, START, FakeClock, World, iso

HOURS = 40  # room for 30 kills: a run often publishes an hour or two before its kill
KILLS = 30
SEED = int(os.environ.get("POR_CRASH_SEED", "20261124"))
NAMED = ["commit:1", "commit:2", "commit:3", "rename:1", "rename:2", "anchor-sent", "fsync:2"]
POR = Path(sys.executable).parent / "por"


@pytest.fixture
def solana_rpc(world: World) -> Iterator[str]:
    server = LiteSvmRpcServer(world.reserve.solana.svm).start()
    try:
        yield server.url
    finally:
        server.stop()


def _args(world: World, sol_url: str, *extra: str) -> list[str]:
    tmp = world.tmp
    key = tmp / "publisher.key"
    if not key.exists():
        write_key_file(key, world.key)
        (tmp / "secret").write_text(SECRET.hex() + "\n")
        (tmp / "secret").chmod(0o600)  # a secret readable by others is refused
    eth = world.reserve.ethereum
    return [
        "publish", "--db", world.ledger_url, "--log-db", world.log_url, "--out", str(tmp / "pub"),
        "--site", str(tmp / "site"), "--key", str(key), "--secret-file", str(tmp / "secret"),
        "--wallets", str(world.reserve.wallets_path), "--keys", str(tmp / "reserve" / "keys.json"),
        "--eth-rpc", world.anvil_url, "--sol-rpc", sol_url, "--anchor", eth.anchor,
        "--anchor-from", eth.deployer, "--engine", "serial", *extra,
    ]  # fmt: skip


def _forked_por(
    args: list[str], crash_at: str | None, kill_after_s: float | None
) -> int:  # float-ok: a timer
    """Run `por ARGS` in a forked child; returns its exit code (-9 when SIGKILLed)."""
    pid = os.fork()
    if pid == 0:  # the child: behave exactly like the `por` script, then leave at once
        code = 3
        try:
            if crash_at is not None:
                os.environ["POR_CRASH_AT"] = crash_at
            from cli.main import cli

            cli.main(args=args, prog_name="por")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        finally:
            os._exit(code)
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_publish_survives_sigkill_at_thirty_random_points(world: World, solana_rpc: str) -> None:
    import cli.main  # noqa: F401 - imported once here so that forked runs start at once
    import cli.publish  # noqa: F401
    import exchange.export  # noqa: F401
    import por.publish.site  # noqa: F401

    last = START + timedelta(hours=HOURS - 1)
    world.advance_to(last + DELAY)
    rng = random.Random(SEED)
    catch_up = _args(world, solana_rpc, "--since", iso(START), "--until", iso(last))
    killed = 0
    plan: list[tuple[str | None, float | None, int, int]] = []  # float-ok: timer seconds
    while killed < KILLS and len(plan) < 2 * KILLS:
        kind = rng.random()  # float-ok: choosing a kind of kill
        if kind < 0.6:
            spec, timer = str(rng.randint(1, 15)), None
        elif kind < 0.85:
            spec, timer = rng.choice(NAMED), None
        else:
            spec, timer = None, rng.uniform(0.05, 0.5)  # float-ok: seconds
        code = _forked_por(catch_up, spec, timer)
        progress = len(world.publisher(FakeClock(last)).publications())
        plan.append((spec, timer, code, progress))
        assert code in (0, -signal.SIGKILL), f"run {plan[-1]} failed instead of dying: {code}"
        killed += code == -signal.SIGKILL
    assert killed == KILLS, f"{KILLS} runs killed midway: {plan}"
    assert plan[-1][3] < HOURS, f"the kills all hit hours being published: {plan}"
    # the restart: a real `por publish`, up to the hour after the last one the kills reached
    final = START + timedelta(hours=plan[-1][3])
    done = subprocess.run(
        [str(POR), *_args(world, solana_rpc, "--since", iso(START), "--until", iso(final))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    hours = [iso(START + timedelta(hours=h)) for h in range(plan[-1][3] + 1)]
    publisher = world.publisher(FakeClock(last + DELAY))
    check_publication(publisher, hours)
    assert all(p.anchor_tx for p in publisher.publications()), "every hour anchored"
    anchorer = Anchorer(world.config().anchor)  # type: ignore[arg-type]
    assert anchorer.contract.functions.anchorCount().call() == len(hours), "one anchor per hour"
    site_pages = sorted(p.name for p in (world.tmp / "site" / "snapshots").glob("*.html"))
    assert site_pages == [f"{h.replace(':', '-')}.html" for h in hours]
    entries = (world.tmp / "site" / "log" / "entries.jsonl").read_bytes().splitlines()
    assert len(entries) == len(hours)
    leftovers = [
        p for root in ("pub", "site") for p in (world.tmp / root).rglob("*") if ".tmp" in p.name
    ]
    assert leftovers == [], "no temporary file or directory survives the final run"
