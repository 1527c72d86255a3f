"""The engine: applies commands to the state, one balanced entry at a time, and records events.

Handlers see a `Context` (see docs/ledger.md, "Extending the engine"): they read the state,
`post` balanced entries, `emit` facts for replay, or `reject` with a reason code. A reject
rolls back every posting of the command; the command is still recorded, as rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from heapq import heapify, heappop, heappush
from itertools import compress, repeat
from operator import add, eq, is_
from typing import Any, NoReturn, Protocol, cast

from exchange import fields
from exchange._linecheck import check_nesting, check_strings
from exchange.errors import InvalidCommandError, LedgerBugError, Rejected
from exchange.model import (
    AMOUNT_LIMIT,
    NEGATIVE,
    POSITIVE,
    SYSTEM_PREFIX,
    Asset,
    Event,
    Posting,
    format_time,
)
from exchange.registry import JobSpec, Registry, default_registry
from exchange.state import BalanceKey, LedgerState

__all__ = [
    "BULK_LEGS",
    "MAX_CLOCK_JUMP_MS",
    "Context",
    "Exchange",
    "FastPath",
    "Journal",
    "MemoryJournal",
]

Leg = tuple[str, str, str, int]
"""(account, asset, bucket, amount): one side of an entry, as handlers write it."""

BULK_LEGS = 32
"""An entry with more legs than this is posted column-wise (`Context.post_columns`): the
same checks and the same postings, done in C-level passes instead of a Python loop per leg
(hourly interest and settlement post entries of 10^5..10^6 legs)."""

MAX_CLOCK_JUMP_MS = 7 * 86_400_000
"""The furthest one command may move the clock (`time_jump_must_not_exceed_limit`): the
events that periodic jobs record over a jump stay pending until the batch's flush, so a
jump is bounded (a longer pause is bridged by `clock` commands of at most 7 days each)."""

_Segment = tuple[int, Sequence[str], str | Sequence[str], Sequence[str], list[int], list[int]]
"""Undo record of a column-wise entry: (position in `_undo` when it was posted, accounts,
asset (or a column), buckets, balances before, balances after)."""

_Read = tuple[str, list[str], list[str], list[int], list[bool] | None, tuple[int, int]]
"""`Context.balances_of`'s last read: (asset, accounts, buckets, values, absent, stamp)."""


_new_event = cast("Callable[[type[Event], tuple[Any, ...]], Event]", tuple.__new__)
"""`Event(...)` without the NamedTuple's Python-level `__new__` (same object, half the cost)."""


def _job_text(job: JobSpec, instant: int) -> str:
    """The `command` text of a job's event (made only for a run that records one)."""
    return json.dumps({"job": job.name, "at": instant}, separators=(",", ":"))


class FastPath:
    """A command handler with a fast path for the command's common shape.

    Registered as a command's handler (`registry.command(name, parse, FastPath(handle,
    fast))`), it is `handle` to everyone who calls or wraps it. The engine first offers the
    raw command to `fast(ctx, raw)`, which either executes it completely (postings, emitted
    data, rejects through `ctx.reject`) and returns True, or returns False having changed
    nothing; then the command takes the general path (parse, `handle`). A handler that
    wraps this one is a plain function, so a wrapped command never takes the fast path.

    The engine calls `fast` only for a command with text and without its time field;
    `raw` always has "cmd". `fast` must give exactly the general path's event and state.
    """

    __slots__ = ("fast", "handle")

    def __init__(
        self,
        handle: Callable[[Context, Any], None],
        fast: Callable[[Context, dict[str, Any]], bool],
    ) -> None:
        self.handle = handle
        self.fast = fast

    def __call__(self, ctx: Context, params: Any) -> None:
        self.handle(ctx, params)


class Journal(Protocol):
    """Where recorded events go. `write` is one transaction: all of `events` or none."""

    def write(self, events: list[Event], state: LedgerState) -> None: ...


class MemoryJournal:
    """Keeps every event in a list (tests, benchmarks, `por demo` before persisting)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: list[Event], state: LedgerState) -> None:
        self.events.extend(events)


class Context:
    """What a handler or job sees while it runs. One per engine, reset for every command."""

    __slots__ = (
        "_buckets",
        "_data",
        "_entry",
        "_positive",
        "_postings",
        "_read",
        "_rollbacks",
        "_segments",
        "_unchecked",
        "_undo",
        "registry",
        "state",
    )

    def __init__(self, state: LedgerState, registry: Registry) -> None:
        self.state = state
        self.registry = registry
        self._buckets = registry.buckets
        # buckets `move` and `post_entries` check as they write (a bucket registered later
        # is not in it: its postings are checked after the command, as every other one)
        self._positive = frozenset(b for b, sign in registry.buckets.items() if sign == POSITIVE)
        self._reset()

    def _reset(self) -> None:
        self._undo: list[tuple[BalanceKey, int]] = []
        self._segments: list[_Segment] | None = None
        self._read: _Read | None = None
        self._postings: list[Posting] = []
        self._data: dict[str, Any] | None = None
        self._entry = 0
        self._unchecked = False  # True once a posting's value was not checked as it was written
        self._rollbacks: list[Callable[[], object]] | None = None

    # -- reading -------------------------------------------------------------------------
    @property
    def time(self) -> int | None:
        """Ledger time in ms since the epoch (None before the first clock)."""
        return self.state.time

    def balance(self, account: str, asset: str, bucket: str = "available") -> int:
        return self.state.balances.get((account, asset, bucket), 0)

    @property
    def postings(self) -> Sequence[Posting]:
        """What this command or job has posted so far, in order (the live list: read it,
        never change it; other modules find who a command touched here)."""
        return self._postings

    @property
    def data(self) -> dict[str, Any] | None:
        """What this command or job has emitted so far (read it, never change it)."""
        return self._data

    # -- checks that end in a reject ----------------------------------------------------
    def reject(self, reason: str, detail: str = "") -> NoReturn:
        """Stop the command: nothing it posted stays; it is recorded as rejected."""
        raise Rejected(reason, detail)

    def require_positive(self, amount: int, name: str = "amount") -> None:
        if amount <= 0:
            raise Rejected(f"{name}_must_be_positive", f"{name} is {amount}")
        if amount >= AMOUNT_LIMIT:
            raise Rejected(f"{name}_must_be_below_limit", f"{name} is {amount}")

    def require_asset(self, symbol: str) -> Asset:
        asset = self.state.assets.get(symbol)
        if asset is None:
            raise Rejected("unknown_asset", symbol)
        return asset

    def require_account(self, account: str) -> None:
        if account not in self.state.accounts:
            raise Rejected("unknown_account", account)

    def require_user_account(self, account: str) -> None:
        if account.startswith(SYSTEM_PREFIX):
            raise Rejected("account_must_be_user_account", account)
        if account not in self.state.accounts:
            raise Rejected("unknown_account", account)

    def require_available(self, account: str, asset: str, amount: int) -> None:
        have = self.state.balances.get((account, asset, "available"), 0)
        if have < amount:
            raise Rejected(
                "insufficient_available_balance", f"{account} has {have} {asset}, needs {amount}"
            )

    # -- changing --------------------------------------------------------------------------
    def open_account(self, account: str, kind: str = "user") -> bool:
        """Open `account` if new (undone on reject). Returns True when it was opened now."""
        accounts = self.state.accounts
        if account in accounts:
            return False
        accounts[account] = kind
        self.on_rollback(lambda: accounts.pop(account, None))
        return True

    def post(self, *legs: Leg) -> None:
        """Append one entry: `legs` must sum to zero per asset. Zero legs are dropped."""
        if len(legs) > BULK_LEGS:
            accounts, assets, buckets, amounts = zip(*legs, strict=True)
            self._post_columns(accounts, assets, buckets, amounts, ())
            return
        self.post_each(*legs)

    def post_each(self, *legs: Leg) -> None:
        """`post` leg by leg in a Python loop: what `post` does for a few legs, and the
        plain reference its column-wise path is tested against."""
        if len(legs) == 2:  # the common case, checked without a dict
            a, b = legs
            if a[1] != b[1] or a[3] + b[3]:
                raise LedgerBugError(f"unbalanced entry {legs!r}")
        else:
            sums: dict[str, int] = {}
            for _, asset, _, amount in legs:
                sums[asset] = sums.get(asset, 0) + amount
            if any(sums.values()):
                raise LedgerBugError(f"unbalanced entry {legs!r}: sums {sums}")
        entry = self._entry
        self._entry = entry + 1
        self._apply(entry, legs)

    def balances_of(self, asset: str, accounts: list[str], buckets: list[str]) -> list[int]:
        """Balances of (accounts[i], asset, buckets[i]), read column-wise. A `post_columns`
        over the same columns right after (nothing posted in between) reuses this read."""
        raw = list(map(self.state.balances.get, zip(accounts, repeat(asset), buckets)))
        absent = None
        values: list[int] = raw  # type: ignore[assignment]
        if None in raw:
            absent = list(map(is_, raw, repeat(None)))
            values = [0 if v is None else v for v in raw]
        self._read = (asset, list(accounts), list(buckets), values, absent, self._stamp())
        return list(values)

    def post_columns(
        self,
        asset: str,
        accounts: Sequence[str],
        buckets: Sequence[str],
        amounts: Sequence[int],
        *legs: Leg,
    ) -> None:
        """Append one entry whose legs are (accounts[i], asset, buckets[i], amounts[i]) for
        each i, then `legs` (applied after the columns; they may touch the same keys).

        Exactly `post` of those legs in that order: the same checks (balanced per asset,
        known asset, account and bucket, sign and limit after the command), the same
        postings, zero legs dropped. Made for entries of 10^5..10^6 legs (hourly interest,
        settlement): the per-leg work runs in C-level passes (map, zip), not a Python loop.
        """
        if not len(accounts) == len(buckets) == len(amounts):
            raise LedgerBugError(
                f"columns differ in length: {len(accounts)} accounts, {len(buckets)} buckets, "
                f"{len(amounts)} amounts"
            )
        self._post_columns(accounts, asset, buckets, amounts, legs)

    def _stamp(self) -> tuple[int, int]:
        """Changes whenever a balance does (within a command)."""
        return len(self._undo), len(self._segments or ())

    def _post_columns(
        self,
        accounts: Sequence[str],
        assets: str | Sequence[str],
        buckets: Sequence[str],
        amounts: Sequence[int],
        legs: tuple[Leg, ...],
    ) -> None:
        """`post` column-wise; `assets` is one asset for every leg, or a column.

        Why this is `post`: a key that is already in `balances` belongs to an open account
        (keys are only made by postings, which check it, and accounts are never closed), so
        only legs that create a key need the account lookup. Keys must be distinct within
        the columns (checked; otherwise the entry is applied leg by leg), so every new
        balance is old + amount; the signs and limits are checked on those values after
        the command (`_check_touched`).
        """
        state = self.state
        balances = state.balances
        known = state.assets
        single = assets if isinstance(assets, str) else None
        distinct = {single} if single is not None else set(assets)
        if single is None and len(distinct) == 1:
            single = next(iter(distinct))
        sums: dict[str, int] = {}
        for _, asset, _, amount in legs:
            sums[asset] = sums.get(asset, 0) + amount
        if single is not None:
            sums[single] = sums.get(single, 0) + sum(amounts)
        else:
            for asset, amount in zip(assets, amounts, strict=True):
                sums[asset] = sums.get(asset, 0) + amount
        if any(sums.values()):
            raise LedgerBugError(
                f"unbalanced entry of {len(amounts) + len(legs)} legs: sums {sums}"
            )
        if not distinct <= known.keys() or not set(buckets) <= self._buckets.keys():
            self._find_unknown(accounts, assets, buckets, amounts)
        read = self._read
        self._read = None
        olds: list[int] | None = None
        absent: list[bool] | None = None
        if (
            read is not None
            and single is not None
            and read[0] == single
            and read[5] == self._stamp()
            and isinstance(accounts, list)
            and isinstance(buckets, list)
            and read[1] == accounts
            and read[2] == buckets
        ):
            olds, absent = read[3], read[4]
        if 0 in amounts:  # zero legs are dropped, as `post` does
            keep = list(map(bool, amounts))
            accounts = list(compress(accounts, keep))
            buckets = list(compress(buckets, keep))
            amounts = list(compress(amounts, keep))
            if single is None:
                assets = list(compress(assets, keep))
            if olds is not None:
                olds = list(compress(olds, keep))
            if absent is not None:
                absent = list(compress(absent, keep))
        column: Iterable[str] = repeat(single) if single is not None else assets
        n = len(amounts)
        if len(set(accounts)) != n and len(set(zip(accounts, buckets, strict=True))) != n:
            # a key twice in the columns: applied leg by leg
            entry = self._entry
            self._entry = entry + 1
            self._apply(entry, (*zip(accounts, column, buckets, amounts, strict=False), *legs))
            return
        if olds is None:
            raw = list(map(balances.get, zip(accounts, column, buckets, strict=False)))
            if None in raw:
                absent = list(map(is_, raw, repeat(None)))
                olds = [0 if v is None else v for v in raw]
            else:
                olds = cast("list[int]", raw)  # (no None in it)
        if absent is not None and not all(
            map(state.accounts.__contains__, compress(accounts, absent))
        ):
            self._find_unknown(accounts, column, buckets, amounts)
        entry = self._entry
        self._entry = entry + 1
        news = list(map(add, olds, amounts))
        balances.update(zip(zip(accounts, column, buckets, strict=False), news, strict=False))
        self._postings.extend(zip(repeat(entry), accounts, column, buckets, amounts, strict=False))
        if self._segments is None:
            self._segments = []
        self._segments.append(
            (
                len(self._undo),
                accounts,
                single if single is not None else assets,
                buckets,
                olds,
                news,
            )
        )
        if legs:
            self._apply(entry, legs)

    def _find_unknown(
        self,
        accounts: Sequence[str],
        assets: str | Iterable[str],
        buckets: Sequence[str],
        amounts: Sequence[int],
    ) -> None:
        """Raise for the first non-zero leg to an unknown asset, account or bucket."""
        state = self.state
        column = repeat(assets) if isinstance(assets, str) else assets
        for leg in zip(accounts, column, buckets, amounts, strict=False):
            if leg[3] and (
                leg[1] not in state.assets
                or leg[0] not in state.accounts
                or leg[2] not in self._buckets
            ):
                raise LedgerBugError(f"posting to an unknown asset, account or bucket: {leg!r}")

    def _apply(self, entry: int, legs: Iterable[Leg]) -> None:
        """Apply the legs of a checked, balanced entry one by one."""
        state = self.state
        balances = state.balances
        assets = state.assets
        accounts = state.accounts
        buckets = self._buckets
        undo = self._undo
        postings = self._postings
        self._unchecked = True  # (checked after the command: `_check_touched`)
        for leg in legs:
            account, asset, bucket, amount = leg
            if not amount:
                continue
            if asset not in assets or account not in accounts or bucket not in buckets:
                raise LedgerBugError(f"posting to an unknown asset, account or bucket: {leg!r}")
            key = (account, asset, bucket)
            old = balances.get(key, 0)
            undo.append((key, old))
            balances[key] = old + amount
            postings.append((entry, account, asset, bucket, amount))

    def move(self, account: str, asset: str, src: str, dst: str, amount: int) -> None:
        """Move `amount` between two buckets of one account (e.g. available -> locked_order).

        Exactly `post((account, asset, src, -amount), (account, asset, dst, amount))`, with
        `_apply` inlined: the two legs of a move are the commonest entry of the matching path.
        The two values written are checked at once when both buckets must stay >= 0 (see
        `_check_touched`).
        """
        entry = self._entry
        self._entry = entry + 1
        if not amount:
            return
        state = self.state
        buckets = self._buckets
        if asset not in state.assets or account not in state.accounts or src not in buckets:
            raise LedgerBugError(
                "posting to an unknown asset, account or bucket: "
                f"{(account, asset, src, -amount)!r}"
            )
        balances = state.balances
        undo = self._undo
        postings = self._postings
        key = (account, asset, src)
        old = balances.get(key, 0)
        undo.append((key, old))
        taken = balances[key] = old - amount
        postings.append((entry, account, asset, src, -amount))
        if dst not in buckets:
            raise LedgerBugError(
                f"posting to an unknown asset, account or bucket: {(account, asset, dst, amount)!r}"
            )
        key = (account, asset, dst)
        old = balances.get(key, 0)
        undo.append((key, old))
        given = balances[key] = old + amount
        postings.append((entry, account, asset, dst, amount))
        positive = self._positive
        if not (
            0 <= taken < AMOUNT_LIMIT
            and 0 <= given < AMOUNT_LIMIT
            and src in positive
            and dst in positive
        ):
            self._unchecked = True

    def post_entries(self, entries: Iterable[tuple[Leg, ...]]) -> None:
        """`post` of each entry in turn, for entries the caller built balanced from accounts,
        assets and buckets it knows exist (matching's fill entries: two assets that have a
        market, accounts that hold orders, core buckets).

        Those two checks of `post` are skipped, nothing else: zero legs are dropped, every
        entry takes its number (an all-zero one too), and the sign and size of every
        touched bucket are checked (as written, or after the command: `_check_touched`).
        The matching tests run the same commands through `post` and compare the postings.
        """
        state = self.state
        balances = state.balances
        get = balances.get
        undo = self._undo.append
        postings = self._postings.append
        positive = self._positive
        entry = self._entry
        checked = True
        for legs in entries:
            for account, asset, bucket, amount in legs:
                if amount:
                    key = (account, asset, bucket)
                    old = get(key, 0)
                    undo((key, old))
                    value = balances[key] = old + amount
                    postings((entry, account, asset, bucket, amount))
                    if checked and not (0 <= value < AMOUNT_LIMIT and bucket in positive):
                        checked = False
            entry += 1
        self._entry = entry
        if not checked:
            self._unchecked = True

    def emit(self, **data: Any) -> None:
        """Record JSON-serialisable facts on this command's event (what replay hooks read)."""
        if self._data is None:
            self._data = data  # a fresh dict (the ** call made it): kept, not copied
        else:
            self._data.update(data)

    def on_rollback(self, undo: Callable[[], object]) -> None:
        """Run `undo` if the command is rejected later (for module state changed early)."""
        if self._rollbacks is None:
            self._rollbacks = []
        self._rollbacks.append(undo)

    # -- engine side ---------------------------------------------------------------------
    def _rollback(self) -> None:
        balances = self.state.balances
        for key, old in self._undo_records():
            if old:
                balances[key] = old
            else:
                balances.pop(key, None)
        if self._rollbacks:
            for undo in reversed(self._rollbacks):
                undo()

    def _undo_records(self) -> Iterable[tuple[BalanceKey, int]]:
        """(key, balance before) of every leg applied, newest first."""
        undo = self._undo
        if not self._segments:
            return reversed(undo)
        out: list[tuple[BalanceKey, int]] = []
        end = len(undo)
        for at, accounts, assets, buckets, olds, _ in reversed(self._segments):
            out.extend(reversed(undo[at:end]))
            column = repeat(assets) if isinstance(assets, str) else reversed(assets)
            keys = zip(reversed(accounts), column, reversed(buckets), strict=False)
            out.extend(zip(keys, reversed(olds), strict=False))
            end = at
        out.extend(reversed(undo[:end]))
        return out

    def _check_touched(self) -> None:
        """Sign and size of every touched bucket after the command.

        `move` and `post_entries` check each value as they write it when its bucket must
        stay >= 0, and set `_unchecked` otherwise (as `_apply` always does). When no value
        went unchecked and nothing was posted column-wise there is nothing left to check:
        the last value written to each key (its value now) passed. Otherwise every key is
        checked here, in posting order, so the first failure is reported as before.
        """
        if not self._unchecked and not self._segments:
            return
        records: Iterable[tuple[BalanceKey, int]] = self._undo
        if self._segments and not self._segments_hold():  # find the first, in posting order
            records = reversed(list(self._undo_records()))
        balances = self.state.balances
        buckets = self._buckets
        for key, _ in records:
            value = balances[key]
            sign = buckets[key[2]]
            if (sign == POSITIVE and value < 0) or (sign == NEGATIVE and value > 0):
                raise LedgerBugError(
                    f"bucket {key[2]!r} of {key[0]}/{key[1]} would be {value} (allowed sign {sign})"
                )
            if value <= -AMOUNT_LIMIT or value >= AMOUNT_LIMIT:
                raise Rejected("balance_must_be_below_limit", f"{key} would be {value}")

    def _segments_hold(self) -> bool:
        """The checks of `_check_touched` for the column-wise entries, in C-level passes
        over the values they posted (False: some value fails; the caller then checks every
        key in posting order). A key posted again later is checked by that later posting
        too (the leg-by-leg records are read from `balances`; a later segment holds the
        later value), so the last value of every key is among those checked here or there;
        an earlier value failing only sends the caller to the exact, ordered check."""
        signs = self._buckets
        for _, _, _, buckets, _, values in self._segments or ():
            if not values:
                continue
            if min(values) <= -AMOUNT_LIMIT or max(values) >= AMOUNT_LIMIT:
                return False
            bucket_signs = list(map(signs.__getitem__, buckets))
            positive = list(compress(values, map(eq, bucket_signs, repeat(POSITIVE))))
            if positive and min(positive) < 0:
                return False
            negative = list(compress(values, map(eq, bucket_signs, repeat(NEGATIVE))))
            if negative and max(negative) > 0:
                return False
        return True


class Exchange:
    """State + registry + the events not yet handed to the journal.

    Call `apply_line`/`apply` for each command and `flush()` to write the pending events to
    the journal in one transaction (group commit). If `flush` fails, discard this object:
    its state is ahead of the journal.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        state: LedgerState | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        self.state = state or LedgerState(self.registry.states)
        self.journal = journal
        self.pending: list[Event] = []
        self.after_event: list[Callable[[Event], None]] = []
        self._ctx = Context(self.state, self.registry)
        self._commands = self.registry.commands
        self._jobs: list[JobSpec] = list(self.registry.jobs)

    # -- input -------------------------------------------------------------------------
    def parse(self, line: str) -> dict[str, Any]:
        """The command object of one line; InvalidCommandError if it is not one, or if it
        nests too deep or holds a string no store keeps the same (`exchange._linecheck`)."""
        check_nesting(line)
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise InvalidCommandError(f"not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidCommandError("a command must be a JSON object")
        check_strings(raw, line)
        return raw

    def apply_line(self, line: str) -> Event:
        """Apply one command-log line. Raises InvalidCommandError (nothing applied) if invalid."""
        return self.apply(self.parse(line), line.strip())

    def apply(self, raw: dict[str, Any], text: str | None = None) -> Event:
        """Apply one command object; returns its event (accepted or rejected)."""
        name = raw.get("cmd")
        spec = self._commands.get(name) if isinstance(name, str) else None
        if spec is None:
            if not isinstance(name, str):
                raise InvalidCommandError(
                    "missing field 'cmd'" if name is None else "'cmd' must be a string"
                )
            raise InvalidCommandError(f"unknown cmd {name!r}")
        handle = spec.handle
        if type(handle) is FastPath and text is not None and spec.time_field not in raw:
            event = self._run(spec.name, handle.fast, raw, text, fast=True)
            if event is not None:
                return event
        at = fields.time(raw, spec.time_field) if spec.time_field in raw else None
        if spec.time_field != "ts" and at is None:
            raise InvalidCommandError(f"missing field {spec.time_field!r}")
        params = spec.parse(raw)
        if text is None:
            text = json.dumps(raw, separators=(",", ":"), sort_keys=True)
            check_strings(raw, text)
        if at is not None:
            now = self.state.time
            if now is not None and at < now:
                return self._record(
                    "command",
                    spec.name,
                    text,
                    "rejected",
                    "time_must_not_decrease",
                    f"{format_time(at)} is before {format_time(now)}",
                    None,
                    (),
                )
            if now is not None and at - now > MAX_CLOCK_JUMP_MS:
                return self._record(
                    "command",
                    spec.name,
                    text,
                    "rejected",
                    "time_jump_must_not_exceed_limit",
                    f"{format_time(now)} to {format_time(at)} is more than "
                    f"{MAX_CLOCK_JUMP_MS} ms (7 days); move the clock in steps",
                    None,
                    (),
                )
            self._advance(at)
        return cast(Event, self._run(spec.name, spec.handle, params, text))  # never declines

    # -- execution ---------------------------------------------------------------------
    def _run(
        self,
        name: str,
        handle: Callable[[Context, Any], object],
        arg: Any,
        text: str,
        fast: bool = False,
    ) -> Event | None:
        """Run one command: `handle` is its handler (with the parsed params), or with
        `fast` a `FastPath`'s fast path (with the raw dict), which returns False when it
        declines: then nothing changed and None is returned."""
        ctx = self._ctx
        ctx._reset()
        try:
            if handle(ctx, arg) is False and fast:
                return None
            ctx._check_touched()
        except Rejected as rej:
            ctx._rollback()
            return self._record(
                "command", name, text, "rejected", rej.reason, rej.detail or None, None, ()
            )
        except BaseException:
            ctx._rollback()
            raise
        return self._record(
            "command", name, text, "accepted", None, None, ctx._data, tuple(ctx._postings)
        )

    def _advance(self, to: int) -> None:
        """Move the clock to `to`, running every job instant in (now, to] in time order.

        Lazily: a heap holds each job's next instant (memory O(jobs), whatever the gap).
        Jobs do not read the clock (`JobSpec.reads_clock`), so a job whose run recorded
        nothing would record nothing again until the state changes, and in a jump only a
        job's recorded event changes it: such a job is parked, and woken at its next
        instant after the next event. The events are exactly those of running every
        instant; the cost is linear in the runs that record one, plus a run per job.
        """
        state = self.state
        now = state.time
        jobs = self._jobs
        if now is not None and jobs and to > now:
            heap = [
                (first, order)
                for order, job in enumerate(jobs)
                if (first := (now // job.period_ms + 1) * job.period_ms) <= to
            ]
            heapify(heap)
            parked: list[int] = []
            while heap:
                instant, order = heappop(heap)
                job = jobs[order]
                state.time = instant
                if self._run_job(job, instant):
                    for other in parked:  # next instant after (instant, order) in run order
                        p = jobs[other].period_ms
                        wake = -(-instant // p) * p
                        if wake == instant and other < order:
                            wake += p
                        if wake <= to:
                            heappush(heap, (wake, other))
                    parked.clear()
                elif not job.reads_clock:
                    parked.append(order)
                    continue
                if instant + job.period_ms <= to:
                    heappush(heap, (instant + job.period_ms, order))
        state.time = to

    def _run_job(self, job: JobSpec, instant: int) -> bool:
        """Run one job instant; True when it recorded an event (posted, emitted or rejected)."""
        ctx = self._ctx
        ctx._reset()
        try:
            job.run(ctx, instant)
            ctx._check_touched()
        except Rejected as rej:
            ctx._rollback()
            self._record(
                "job", job.name, _job_text(job, instant), "rejected", rej.reason,
                rej.detail or None, None, (),
            )  # fmt: skip
            return True
        except BaseException:
            ctx._rollback()
            raise
        if ctx._postings or ctx._data:
            self._record(
                "job", job.name, _job_text(job, instant), "accepted", None, None, ctx._data,
                tuple(ctx._postings),
            )  # fmt: skip
            return True
        return False

    def _record(
        self,
        kind: str,
        cmd: str,
        text: str,
        status: str,
        reason: str | None,
        detail: str | None,
        data: dict[str, Any] | None,
        postings: tuple[Posting, ...],
    ) -> Event:
        """Append the event of one command or job run (the one place an event is made)."""
        state = self.state
        seq = state.seq + 1
        state.seq = seq
        event = _new_event(
            Event, (seq, state.time, kind, cmd, status, reason, detail, text, data, postings)
        )
        self.pending.append(event)
        if self.after_event:
            for hook in self.after_event:
                hook(event)
        return event

    # -- persistence -------------------------------------------------------------------
    def flush(self) -> int:
        """Write pending events to the journal (one transaction). Returns how many."""
        pending = self.pending
        n = len(pending)
        if n:
            if self.journal is not None:
                self.journal.write(pending, self.state)
            self.pending = []
        return n

    def submit(self, command: str | dict[str, Any]) -> Event:
        """Apply one command; a reject is recorded and then raised as `Rejected` (typed, with
        its reason code) for callers that want an exception rather than an event."""
        event = self.apply_line(command) if isinstance(command, str) else self.apply(command)
        if event.status == "rejected":
            raise Rejected(event.reason or "rejected", event.detail or "")
        return event

    def apply_lines(self, lines: Iterable[str]) -> list[Event]:
        return [self.apply_line(line) for line in lines]
