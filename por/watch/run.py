"""The watch loop: poll each chain, judge coverage at every new reading, switch to each
newly published hour; JSON-ready events out, an exit status at the end.

Edge (time, the site, the chains), around the pure `coverage` decision. Time and sleep
are injected so tests and benchmarks drive it.

Events (`WatchEvent.kind`), in order of a run:
- `hour`: the hour watched (at start, and at each newly published hour it switches to):
  snapshot id, net liabilities per asset, wallets per chain, where each chain is read
  from (`node`, or `published`: no node given, the hour's published totals stand);
- `covered` / `shortfall` / `recovered` (`por.watch.coverage`), each with the hour, the
  chain and block/slot whose reading changed the verdict, and the pins used;
- `gap`: blocks/slots that could not be checked (a node that timed out or answered
  garbage, or a watch too far behind), with the reason; `gap_end` when readings resume,
  with the unchecked range;
- `hour_rejected`: a newly published hour that fails a check (the previous hour stays);
- `block` (with `each_block`): every reading, with its read time and lag;
- `end`: what the run checked.

Exit status: `once`: 0 covered, 1 shortfall, 2 a chain could not be read; otherwise 1 if
any shortfall was reported during the run, else 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from por.reserves.values import iso_utc
from por.watch.chains import ChainGap, ChainReading, EthereumFollower, Follower, SolanaFollower
from por.watch.coverage import CoverageTracker, WatchEvent, coverage
from por.watch.hour import (
    HourRejectedError,
    WatchedHour,
    WatchInputError,
    load_latest_hour,
    published_size,
)

__all__ = ["WatchConfig", "run_watch"]


@dataclass(frozen=True, slots=True)
class WatchConfig:
    site: str
    public_key: bytes
    eth_rpc: str | None = None
    sol_rpc: str | None = None
    interval_s: float = 1.0  # float-ok: seconds between polls
    once: bool = False
    until_block: int | None = None  # stop after this Ethereum block (Solana slot if no Ethereum)
    max_seconds: float | None = None  # float-ok: seconds
    site_every_s: float = 10.0  # float-ok: seconds between looks for a new hour
    timeout_s: float = 10.0  # float-ok: seconds per RPC request
    backlog: int = 64  # Ethereum blocks caught up at most; older ones are a gap
    each_block: bool = False


@dataclass(slots=True)
class _State:
    hour: WatchedHour
    followers: list[Follower]
    totals: dict[str, dict[str, int]]
    pins: dict[str, Any]
    gaps: dict[str, dict[str, Any]] = field(default_factory=dict)  # open gap per chain
    checked: dict[str, int] = field(default_factory=dict)
    gap_count: int = 0
    rejected_size: int | None = None


def _followers(hour: WatchedHour, config: WatchConfig) -> list[Follower]:
    out: list[Follower] = []
    eth, sol = hour.wallets.get("ethereum"), hour.wallets.get("solana")
    if eth and config.eth_rpc:
        out.append(
            EthereumFollower(
                config.eth_rpc,
                eth,
                hour.assets["ethereum"],
                timeout_s=config.timeout_s,
                backlog=config.backlog,
            )
        )
    if sol and config.sol_rpc:
        out.append(
            SolanaFollower(config.sol_rpc, sol, hour.assets["solana"], timeout_s=config.timeout_s)
        )
    return out


def _hour_event(hour: WatchedHour, followers: list[Follower], switched: bool) -> WatchEvent:
    read = {f.chain for f in followers}
    return WatchEvent(
        "hour",
        {
            "hour": hour.snapshot_id,
            "switched": switched,
            "log_size": hour.log_size,
            "net_liabilities": {a: str(n) for a, n in hour.net_liabilities.items()},
            "wallets": {c: len(w) for c, w in sorted(hour.wallets.items())},
            "source": {c: "node" if c in read else "published" for c in sorted(hour.wallets)},
            "liabilities_check": hour.liabilities,
        },
    )


def _start(hour: WatchedHour, config: WatchConfig) -> tuple[list[Follower], dict[str, Any]]:
    followers = _followers(hour, config)
    read = {f.chain for f in followers}
    pins: dict[str, Any] = {
        c: f"published {hour.pins.get(c)}" for c in hour.wallets if c not in read
    }
    return followers, pins


def _published(hour: WatchedHour, chains: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The hour's published totals of the chains no node is given for (none: nothing)."""
    return {c: dict(hour.published.get(c, {})) for c in hour.wallets if c in chains}


def run_watch(
    config: WatchConfig,
    emit: Callable[[WatchEvent], None],
    *,
    clock: Callable[[], float] = time.monotonic,  # float-ok: seconds
    sleep: Callable[[float], None] = time.sleep,  # float-ok: seconds
    load_hour: Callable[[str, bytes], WatchedHour] = load_latest_hour,
) -> int:
    """Watch until `once`, `until_block` or `max_seconds` says stop (see the module
    docstring); `WatchInputError` / `HourRejectedError` when the first hour cannot be had.

    `load_hour` reads the site's last hour (the benchmark hands it an hour in memory)."""
    hour = load_hour(config.site, config.public_key)
    followers, pins = _start(hour, config)
    if not followers:
        raise WatchInputError(
            f"{hour.snapshot_id}: no node given for a chain holding its wallets"
            f" ({', '.join(sorted(hour.wallets)) or 'none'}): nothing would be watched"
        )
    state = _State(hour, followers, _published(hour, pins), pins)
    emit(_hour_event(hour, followers, switched=False))
    tracker = CoverageTracker()
    started = last_site = clock()
    while True:
        tick = clock()
        for follower in state.followers:
            for result in follower.poll():
                if isinstance(result, ChainGap):
                    _gap(state, result, emit)
                else:
                    _reading(state, result, tracker, emit, config)
        if config.once:
            unread = [f.chain for f in state.followers if f.chain not in state.totals]
            _finish(state, tracker, emit)
            if unread:
                return 2
            return 1 if tracker.short else 0
        if _done(state, config, clock() - started):
            break
        if clock() - last_site >= config.site_every_s:
            last_site = clock()
            _look_for_new_hour(state, config, emit, load_hour)
        sleep(max(0.0, config.interval_s - (clock() - tick)))
    _finish(state, tracker, emit)
    return 1 if tracker.shortfalls else 0


def _done(state: _State, config: WatchConfig, elapsed: float) -> bool:  # float-ok: seconds
    if config.max_seconds is not None and elapsed >= config.max_seconds:
        return True
    if config.until_block is not None:
        chains = [f for f in state.followers if f.chain == "ethereum"] or state.followers
        return all(f.last is not None and f.last >= config.until_block for f in chains)
    return False


def _gap(state: _State, gap: ChainGap, emit: Callable[[WatchEvent], None]) -> None:
    opened = state.gaps.get(gap.chain)
    if opened is None:
        first = gap.first
        state.gaps[gap.chain] = {"first": first, "last": gap.last, "reason": gap.reason}
        state.gap_count += 1
        unit = "block" if gap.chain == "ethereum" else "slot"
        emit(
            WatchEvent(
                "gap",
                {
                    "chain": gap.chain,
                    f"from_{unit}": first,
                    "reason": gap.reason,
                    "hour": state.hour.snapshot_id,
                },
            )
        )
    else:
        if opened["first"] is None:
            opened["first"] = gap.first
        if gap.last is not None:
            opened["last"] = gap.last


def _close_gap(state: _State, chain: str, resumed_at: int | None, emit: Any) -> None:
    opened = state.gaps.pop(chain, None)
    if opened is None:
        return
    unit = "block" if chain == "ethereum" else "slot"
    fields: dict[str, Any] = {
        "chain": chain,
        f"from_{unit}": opened["first"],
        f"to_{unit}": opened["last"],
        "reason": opened["reason"],
    }
    if resumed_at is None:
        fields["open"] = True  # the run ended inside the gap
    else:
        fields[f"resumed_at_{unit}"] = resumed_at
    emit(WatchEvent("gap_end", fields))


def _reading(
    state: _State,
    reading: ChainReading,
    tracker: CoverageTracker,
    emit: Callable[[WatchEvent], None],
    config: WatchConfig,
) -> None:
    _close_gap(state, reading.chain, reading.number, emit)
    unit = "block" if reading.chain == "ethereum" else "slot"
    state.totals[reading.chain] = reading.totals
    state.pins[reading.chain] = reading.number
    state.checked[reading.chain] = state.checked.get(reading.chain, 0) + 1
    if config.each_block:
        emit(
            WatchEvent(
                "block",
                {
                    "chain": reading.chain,
                    unit: reading.number,
                    "lag": reading.head - reading.number,
                    "read_ms": round(reading.read_s * 1000),
                    "totals": {a: str(v) for a, v in sorted(reading.totals.items())},
                },
            )
        )
    if any(f.chain not in state.totals for f in state.followers):
        return  # the baseline waits for a reading of every chain
    where = {
        "hour": state.hour.snapshot_id,
        "chain": reading.chain,
        unit: reading.number,
        "time": iso_utc(reading.time),
        "pins": dict(sorted(state.pins.items())),
    }
    for event in tracker.judge(coverage(state.hour.net_liabilities, state.totals), where):
        emit(event)


def _look_for_new_hour(
    state: _State,
    config: WatchConfig,
    emit: Callable[[WatchEvent], None],
    load_hour: Callable[[str, bytes], WatchedHour],
) -> None:
    try:
        size = published_size(config.site, config.public_key)
    except Exception as exc:  # the site is the exchange's: unreadable now is a gap
        emit(WatchEvent("gap", {"chain": "site", "reason": f"{type(exc).__name__}: {exc}"}))
        return
    if size == state.hour.log_size or size == state.rejected_size:
        return
    try:
        hour = load_hour(config.site, config.public_key)
    except HourRejectedError as exc:
        state.rejected_size = size
        emit(WatchEvent("hour_rejected", {"reason": str(exc), "kept": state.hour.snapshot_id}))
        return
    except Exception as exc:  # a site caught mid-update: try again next time
        emit(WatchEvent("gap", {"chain": "site", "reason": f"{type(exc).__name__}: {exc}"}))
        return
    positions = {f.chain: f.last for f in state.followers}
    followers, pins = _start(hour, config)
    for follower in followers:
        if isinstance(follower, EthereumFollower) and positions.get("ethereum") is not None:
            last = positions["ethereum"]
            follower.last = last
    state.hour, state.followers, state.pins = hour, followers, pins
    keep = {f.chain for f in followers}
    state.totals = {c: t for c, t in state.totals.items() if c in keep}
    state.totals.update(_published(hour, pins))
    emit(_hour_event(hour, followers, switched=True))


def _finish(state: _State, tracker: CoverageTracker, emit: Callable[[WatchEvent], None]) -> None:
    for chain in list(state.gaps):
        _close_gap(state, chain, None, emit)
    emit(
        WatchEvent(
            "end",
            {
                "hour": state.hour.snapshot_id,
                "checked": dict(sorted(state.checked.items())),
                "last": {f.chain: f.last for f in state.followers},
                "gaps": state.gap_count,
                "shortfalls": tracker.shortfalls,
                "short_now": sorted(tracker.short),
            },
        )
    )
