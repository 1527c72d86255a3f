"""`por watch` on Anvil + LiteSVM: a published hour, then funds leave a custody wallet
mid-hour and come back; a node answering garbage; a tampered site."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from por.chain.ethereum_world import connect, mine, set_eth_balances
from por.watch import HourRejectedError, WatchConfig, WatchEvent, load_latest_hour, run_watch
from tests.por.publish.publish_world import KEY_HEX, START, FakeClock, World, iso
from tests.por.reserves.reserves_helpers import RpcProxy

KEY = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"  # RFC 8032 test 1
)


def _run(config: WatchConfig, steps: list[Callable[[], None]]) -> tuple[int, list[dict[str, Any]]]:
    """Run the watch; each sleep between polls runs the next step (chain actions)."""
    events: list[dict[str, Any]] = []
    pending = list(steps)

    def sleep(_seconds: float) -> None:
        if pending:
            pending.pop(0)()

    def emit(event: WatchEvent) -> None:
        events.append(json.loads(json.dumps(event.to_json())))

    code = run_watch(config, emit, sleep=sleep)
    return code, events


def _config(world: World, sol_url: str, **overrides: Any) -> WatchConfig:
    base: dict[str, Any] = {
        "site": str(world.tmp / "site"),
        "public_key": KEY,
        "eth_rpc": world.anvil_url,
        "sol_rpc": sol_url,
        "interval_s": 0.0,
        "site_every_s": 3600.0,
        "timeout_s": 5.0,
        "max_seconds": 60.0,
    }
    base.update(overrides)
    return WatchConfig(**base)


def test_the_key_is_the_worlds() -> None:
    from por.operator.signing import signing_key_from_hex

    assert signing_key_from_hex(KEY_HEX, "k").public_key_hex == KEY.hex()


def test_watch_reports_the_shortfall_at_the_block_funds_leave_and_the_recovery(
    published: tuple[World, FakeClock, str],
) -> None:
    world, _clock, sol_url = published
    w3 = connect(world.anvil_url)
    eth = [w.address for w in world.reserve.registry.on("ethereum")]
    before = {a: int(w3.eth.get_balance(a)) for a in eth}  # type: ignore[arg-type]
    hour = load_latest_hour(str(world.tmp / "site"), KEY)
    assert hour.snapshot_id == iso(START)
    assert sum(before.values()) >= hour.net_liabilities["ETH"] > 0
    start = w3.eth.block_number
    blocks: dict[str, int] = {}

    def drain() -> None:
        set_eth_balances(w3, {eth[0]: 0})  # the hot wallet's ETH leaves mid-hour
        mine(w3)
        blocks["drained"] = w3.eth.block_number

    def refill() -> None:
        set_eth_balances(w3, before)
        mine(w3)
        blocks["refilled"] = w3.eth.block_number

    def idle() -> None:
        mine(w3)

    code, events = _run(_config(world, sol_url, until_block=start + 4), [idle, drain, idle, refill])
    kinds = [e["kind"] for e in events]
    assert kinds == ["hour", "covered", "shortfall", "recovered", "end"], events
    assert events[1]["pins"]["ethereum"] == start
    short = events[2]
    assert (short["asset"], short["block"], short["chain"]) == (
        "ETH",
        blocks["drained"],
        "ethereum",
    )
    assert int(short["reserves"]) == sum(before.values()) - before[eth[0]]
    assert int(short["deficit"]) == hour.net_liabilities["ETH"] - int(short["reserves"])
    assert short["hour"] == iso(START)
    assert events[3]["asset"] == "ETH" and events[3]["block"] == blocks["refilled"]
    assert events[-1]["shortfalls"] == 1 and events[-1]["short_now"] == []
    assert code == 1, "a shortfall was reported during the run"


def test_watch_once_exits_0_when_covered_and_1_when_short(
    published: tuple[World, FakeClock, str],
) -> None:
    world, _clock, sol_url = published
    code, events = _run(_config(world, sol_url, once=True), [])
    assert code == 0 and [e["kind"] for e in events] == ["hour", "covered", "end"]
    w3 = connect(world.anvil_url)
    set_eth_balances(w3, {w.address: 0 for w in world.reserve.registry.on("ethereum")})
    mine(w3)
    code, events = _run(_config(world, sol_url, once=True), [])
    assert code == 1
    assert [(e["kind"], e.get("asset")) for e in events[1:-1]] == [("shortfall", "ETH")]


def test_a_node_answering_garbage_is_a_gap_and_the_watch_goes_on(
    published: tuple[World, FakeClock, str],
) -> None:
    world, _clock, sol_url = published
    lying = {"on": False}

    def garble(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if lying["on"] and request.get("method") == "eth_call":
            return {**response, "result": "0xnot-hex"}
        return response

    proxy = RpcProxy(world.anvil_url, on_response=garble)
    try:
        w3 = connect(world.anvil_url)
        start = w3.eth.block_number

        def lie() -> None:
            lying["on"] = True
            mine(w3)

        def honest() -> None:
            lying["on"] = False
            mine(w3)

        code, events = _run(
            _config(world, sol_url, eth_rpc=proxy.url, until_block=start + 4),
            [lie, lambda: mine(w3), honest, lambda: mine(w3)],
        )
    finally:
        proxy.close()
    kinds = [e["kind"] for e in events]
    assert kinds == ["hour", "covered", "gap", "gap_end", "end"], events
    gap, end = events[2], events[3]
    assert gap["chain"] == "ethereum" and gap["from_block"] == start + 1
    assert "bad return data" in gap["reason"], gap
    assert (end["from_block"], end["to_block"], end["resumed_at_block"]) == (
        start + 1,
        start + 2,
        start + 3,
    )
    assert events[-1]["checked"]["ethereum"] == 3 and code == 0


def test_watch_once_with_a_dead_node_exits_2_with_a_gap(
    published: tuple[World, FakeClock, str],
) -> None:
    world, _clock, sol_url = published
    code, events = _run(_config(world, sol_url, once=True, eth_rpc="http://127.0.0.1:9"), [])
    assert code == 2
    assert [e["kind"] for e in events] == ["hour", "gap", "gap_end", "end"]
    assert events[2]["open"] is True


def test_a_tampered_hour_is_rejected_naming_the_check(
    published: tuple[World, FakeClock, str],
) -> None:
    world, _clock, sol_url = published
    site = world.tmp / "site"
    (recon,) = (site / "snapshots").glob("*/reconciliation.json")
    recon.write_text(recon.read_text().replace('"PASS"', '"FAIL"', 1))
    with pytest.raises(HourRejectedError, match="check files"):
        load_latest_hour(str(site), KEY)
    result = CliRunner().invoke(
        cli, ["watch", str(site), "--public-key", KEY.hex(), "--sol-rpc", sol_url, "--once"]
    )
    assert result.exit_code == 1 and "last hour rejected" in result.output


def test_cli_once_prints_json_lines(
    published: tuple[World, FakeClock, str], tmp_path: Path
) -> None:
    world, _clock, sol_url = published
    args = ["watch", str(world.tmp / "site"), "--public-key", KEY.hex(), "--once"]
    result = CliRunner().invoke(cli, [*args, "--eth-rpc", world.anvil_url, "--sol-rpc", sol_url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [e["kind"] for e in lines] == ["hour", "covered", "end"]
    assert lines[0]["source"] == {"ethereum": "node", "solana": "node"}
    usage = CliRunner().invoke(cli, args)
    assert usage.exit_code == 2 and "--eth-rpc" in usage.output


def test_the_one_batch_per_block_totals_equal_the_readers_at_every_block(
    published: tuple[World, FakeClock, str],
) -> None:
    from por.watch.chains import ChainReading, EthereumFollower

    world, _clock, _sol = published
    hour = load_latest_hour(str(world.tmp / "site"), KEY)
    w3 = connect(world.anvil_url)
    eth = [w.address for w in world.reserve.registry.on("ethereum")]
    set_eth_balances(w3, {eth[0]: 123, eth[1]: 10**18 + 7})
    mine(w3)
    head = w3.eth.block_number
    results = {}
    for method in ("batch", "reader"):
        follower = EthereumFollower(
            world.anvil_url,
            hour.wallets["ethereum"],
            hour.assets["ethereum"],
            start=head - 2,
            method=method,
        )
        readings = follower.poll()
        assert all(isinstance(r, ChainReading) for r in readings), readings
        results[method] = [(r.number, r.time, r.totals) for r in readings]  # type: ignore[union-attr]
    assert results["batch"] == results["reader"]
    assert [n for n, _, _ in results["batch"]] == [head - 2, head - 1, head]
    assert results["batch"][-1][2]["ETH"] == 10**18 + 130


def test_watch_switches_to_a_newly_published_hour(
    published: tuple[World, FakeClock, str],
) -> None:
    from datetime import timedelta

    world, clock, sol_url = published
    w3 = connect(world.anvil_url)
    next_hour = START + timedelta(hours=1)

    def publish() -> None:
        clock.sleep(3600)  # the world trades on and funds the next hour's reserves
        publisher = world.publisher(clock)
        with publisher.lock():
            assert publisher.publish_hour(next_hour).status == "published"

    ticks = {"t": 0.0}

    def sleep(_s: float) -> None:
        steps = [publish, lambda: mine(w3), lambda: mine(w3)]
        if int(ticks["t"]) < len(steps):
            steps[int(ticks["t"])]()
        ticks["t"] += 1

    events: list[dict[str, Any]] = []
    code = run_watch(
        _config(world, sol_url, site_every_s=0.0, max_seconds=3.0),
        lambda e: events.append(json.loads(json.dumps(e.to_json()))),
        clock=lambda: ticks["t"],
        sleep=sleep,
    )
    hours = [e for e in events if e["kind"] == "hour"]
    assert [(h["hour"], h["switched"]) for h in hours] == [
        (iso(START), False),
        (iso(next_hour), True),
    ], events
    assert hours[1]["log_size"] == 2
    assert events[-1]["hour"] == iso(next_hour) and code == 0
    assert not [e for e in events if e["kind"] in ("gap", "hour_rejected", "shortfall")]


def test_a_node_that_times_out_is_a_gap_not_a_hang(
    published: tuple[World, FakeClock, str],
) -> None:
    import time

    world, _clock, sol_url = published

    def slow(request: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.6)
        return request

    proxy = RpcProxy(world.anvil_url, on_request=slow)
    try:
        code, events = _run(
            _config(world, sol_url, eth_rpc=proxy.url, once=True, timeout_s=0.2), []
        )
    finally:
        proxy.close()
    assert code == 2, events
    gap = next(e for e in events if e["kind"] == "gap")
    assert gap["chain"] == "ethereum" and "Timeout" in gap["reason"], gap
