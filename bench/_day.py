"""A sample day run in memory, cut at every hour boundary: the ledger side of bench/privacy.py.

`por demo` applies the day's commands to a ledger on SQLite and snapshots it with
`exchange.export.SqlLedgerExport`, which sums every posting up to the cut again each hour.
For a day of 100,000 accounts that is the slow part, and the privacy bench only needs the
leaves. So the exchange runs on a journal of its own here: every event it writes is folded
into running sums (account -> claim per asset) as long as its time is before the next hour
boundary; the events at or after the boundary wait for the next cut. At each boundary the
sums are exactly the ledger state at the last event strictly before it, as the SQL cut reads
it (tests/bench/test_privacy_bench.py compares the two on a small day).

What a cut answers (`MemoryCut`, the `por.snapshot.LedgerSource` protocol): assets,
customer claims (every customer account that exists at the cut, zero claims included),
totals, system balances, custody, in-flight withdrawals, the index prices recorded by the
last accepted `index_price` events. No risk model: the borrower views are None.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from exchange.commandlog import run_lines
from exchange.engine import Exchange
from exchange.model import CUSTODY, SYSTEM_PREFIX, Event
from exchange.state import LedgerState

QUOTE = "USDC"
QUOTE_DECIMALS = 6
HOUR_MS = 3_600_000


class FoldingJournal:
    """An exchange journal that keeps running sums instead of events (see the docstring)."""

    def __init__(self) -> None:
        self.assets: list[tuple[str, int]] = []
        self.position: dict[str, int] = {}
        self.sums: dict[str, list[int]] = {}  # account -> claim per asset (system too)
        self.withdrawing: dict[str, list[int]] = {}  # customer -> locked_withdrawal per asset
        self.opened: set[str] = set()  # customers created by an `account` command
        self.prices: dict[str, int] = {}
        self.seq = 0
        self.time_ms: int | None = None
        self._waiting: list[Event] = []

    def write(self, events: list[Event], state: LedgerState) -> None:
        self._waiting.extend(events)

    def fold_before(self, boundary_ms: int) -> None:
        """Fold every waiting event whose time is before the boundary (or has none)."""
        waiting = self._waiting
        k = 0
        while k < len(waiting):
            ts = waiting[k].ts
            if ts is not None and ts >= boundary_ms:
                break
            self._fold(waiting[k])
            k += 1
        self._waiting = waiting[k:]

    def _fold(self, event: Event) -> None:
        self.seq = event.seq
        if event.ts is not None:
            self.time_ms = event.ts
        if event.status != "accepted":
            return
        if event.cmd == "asset":
            raw = json.loads(event.command)
            self.position[str(raw["symbol"])] = len(self.assets)
            self.assets.append((str(raw["symbol"]), int(raw["decimals"])))
            for vector in (*self.sums.values(), *self.withdrawing.values()):
                vector.append(0)
        elif event.cmd == "account":
            self.opened.add(str(json.loads(event.command)["id"]))
        elif event.cmd == "index_price":
            raw = json.loads(event.command)
            index = (event.data or {}).get("index")
            self.prices[str(raw["asset"])] = int(index if index is not None else raw["price"])
        n = len(self.assets)
        sums, position = self.sums, self.position
        for _entry, account, asset, bucket, amount in event.postings:
            found = sums.get(account)
            if found is None:
                found = [0] * n
                sums[account] = found
            vector = found
            k = position[asset]
            vector[k] += amount
            if bucket == "locked_withdrawal" and not account.startswith(SYSTEM_PREFIX):
                held = self.withdrawing.get(account)
                if held is None:
                    held = [0] * n
                    self.withdrawing[account] = held
                held[k] += amount


class MemoryCut:
    """The folded sums at one boundary, as a `por.snapshot.LedgerCut`."""

    def __init__(self, journal: FoldingJournal) -> None:
        self.seq = journal.seq
        self.time_ms = journal.time_ms
        self._j = journal

    def assets(self) -> list[tuple[str, int]]:
        return list(self._j.assets)

    def claims(self) -> Iterator[tuple[str, Sequence[int]]]:
        n = len(self._j.assets)
        sums = self._j.sums
        for account in sorted(set(sums) | self._j.opened):
            if not account.startswith(SYSTEM_PREFIX):
                yield account, list(sums.get(account, [0] * n))

    def customer_totals(self) -> Mapping[str, tuple[int, int]]:
        n = len(self._j.assets)
        pos, neg = [0] * n, [0] * n
        for account, vector in self._j.sums.items():
            if account.startswith(SYSTEM_PREFIX):
                continue
            for k, value in enumerate(vector):
                if value > 0:
                    pos[k] += value
                elif value < 0:
                    neg[k] -= value
        return {s: (pos[k], neg[k]) for k, (s, _) in enumerate(self._j.assets) if pos[k] or neg[k]}

    def system_balances(self) -> Mapping[tuple[str, str], int]:
        out = {}
        for account, vector in self._j.sums.items():
            if account.startswith(SYSTEM_PREFIX):
                for (symbol, _), value in zip(self._j.assets, vector, strict=True):
                    if value:
                        out[(account, symbol)] = value
        return out

    custody_account = CUSTODY

    def custody(self) -> Mapping[str, int]:
        vector = self._j.sums.get(CUSTODY, [0] * len(self._j.assets))
        return {s: -v for (s, _), v in zip(self._j.assets, vector, strict=True) if v}

    def in_flight(self) -> Mapping[str, int]:
        n = len(self._j.assets)
        held = [0] * n
        for vector in self._j.withdrawing.values():
            for k, value in enumerate(vector):
                held[k] += value
        return {s: held[k] for k, (s, _) in enumerate(self._j.assets) if held[k]}

    def price_decimals(self) -> int:
        return dict(self._j.assets).get(QUOTE, QUOTE_DECIMALS)

    def index_prices(self) -> Mapping[str, int] | None:
        assets = dict(self._j.assets)
        prices = {a: p for a, p in self._j.prices.items() if a in assets}
        if QUOTE in assets and QUOTE not in prices:
            prices[QUOTE] = 10 ** assets[QUOTE]
        return prices or None

    def borrower_collateral(self) -> Mapping[str, tuple[int, int, int, int]] | None:
        return None

    def borrower_shortfall(self) -> tuple[int, int, int] | None:
        return None


class MemorySource:
    """A `LedgerSource` over a `FoldingJournal` already folded up to the boundary asked for."""

    def __init__(self, journal: FoldingJournal) -> None:
        self.journal = journal

    @contextmanager
    def cut(self, boundary_ms: int) -> Iterator[MemoryCut]:
        if self.journal.time_ms is not None and self.journal.time_ms >= boundary_ms:
            raise RuntimeError("the journal was folded past this boundary")
        yield MemoryCut(self.journal)


def hour_chunks(lines: Sequence[str], gen: Any, hours: int) -> list[list[str]]:
    """The day's lines cut after each hour boundary's `clock` line: `por demo`'s own cut."""
    from cli._demo_run import _split_hours

    return _split_hours(lines, gen, hours)


def run_day(gen: Any, lines: Sequence[str], hours: int) -> Iterator[tuple[int, MemorySource]]:
    """Apply the day hour by hour; yield (boundary ms, a source cut at it) after each hour.

    The source is only valid until the next item is asked for (the sums move on)."""
    journal = FoldingJournal()
    exchange = Exchange(journal=journal)
    source = MemorySource(journal)
    for h, chunk in enumerate(hour_chunks(lines, gen, hours), start=1):
        run_lines(exchange, (line.encode() for line in chunk), "day", batch=5000)
        boundary = gen.hour_ms(h)
        journal.fold_before(boundary)
        yield boundary, source
