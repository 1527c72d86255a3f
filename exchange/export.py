"""The exchange side of a proof-of-reserves snapshot: consistent cuts of the SQL journal.

`SqlLedgerExport` implements the queries `por.snapshot.source.LedgerSource` declares, by
structure only (this package never imports `por`). Everything is derived from the
append-only journal, never from the `balances` cache: a cut at sequence S is the sum of
the postings with `seq <= S`. Those rows never change once written (triggers refuse it),
and events are committed whole, in sequence order, so a cut reads the same however many
events the exchange appends meanwhile: trading goes on during a snapshot.

On PostgreSQL each cut is additionally one `REPEATABLE READ READ ONLY` transaction (one
MVCC snapshot for every query, no locks taken) and sums run in SQL on `NUMERIC`, exactly.
On SQLite, amounts are decimal text (its integers are 64-bit), so sums are done in Python
over the same rows: the same result, by aggregation up to the cut.

The cut for a boundary T is the last event with `ts < T` (events before the first clock
have no time and belong to every cut). It is final only once an event at or after T has
been committed; before that, earlier events may still arrive, and `cut` refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from exchange.errors import ExchangeError
from exchange.model import CUSTODY, SYSTEM_PREFIX, format_time

__all__ = ["CutNotFinalError", "SqlLedgerCut", "SqlLedgerExport"]

_STREAM_ROWS = 50_000
_STREAM = {"stream_results": True, "yield_per": _STREAM_ROWS}  # per query, never sticky
_USER = "account NOT LIKE '@%'"
_SYSTEM = "account LIKE '@%'"
assert SYSTEM_PREFIX == "@"


class CutNotFinalError(ExchangeError):
    """The ledger has no event at or after the boundary yet: the cut could still grow."""


class SqlLedgerExport:
    """Cuts of a ledger stored by `exchange.store.SqlJournal` (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, *, work_mem: str = "256MB") -> None:
        self.engine = engine
        self.work_mem = work_mem  # PostgreSQL: per-cut memory for hashing 4M+ groups in RAM

    @contextmanager
    def cut(self, boundary_ms: int) -> Iterator[SqlLedgerCut]:
        """The ledger at the last event before `boundary_ms`, read in one transaction."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT set_config('work_mem', :m, true)"), {"m": self.work_mem}
                    )
                yield _open_cut(conn, boundary_ms)


def _open_cut(conn: Connection, boundary_ms: int) -> SqlLedgerCut:
    """Binary search over `seq` (primary key): ledger time never decreases along the
    journal (docs/ledger.md), and events before the first clock (NULL time) come first."""
    head = conn.execute(text("SELECT seq, ts FROM head WHERE id = 1")).first()
    head_seq, head_ts = (0, None) if head is None else (int(head[0]), head[1])
    if head_ts is None or int(head_ts) < boundary_ms:
        raise CutNotFinalError(
            f"the ledger has not reached {format_time(boundary_ms)} yet (last event "
            f"{head_seq} at {format_time(head_ts)}): events before the boundary may still "
            "come; the cut is final once an event at or after it is recorded (e.g. a clock "
            "command)"
        )
    probe = text("SELECT ts FROM events WHERE seq = :s")

    def ts_of(seq: int) -> int | None:
        value = conn.execute(probe, {"s": seq}).scalar()
        return None if value is None else int(value)

    lo, hi = 1, head_seq  # the first event at or after the boundary is in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        ts = ts_of(mid)
        if ts is not None and ts >= boundary_ms:
            hi = mid
        else:
            lo = mid + 1
    seq = lo - 1
    return SqlLedgerCut(conn, seq, ts_of(seq) if seq > 0 else None)


class SqlLedgerCut:
    """Read-only queries at one sequence (see `por.snapshot.source.LedgerCut`).

    One pass over the postings up to the cut yields everything: on PostgreSQL a single
    query (per-account sums pivoted by asset, materialised once, then the customer rows,
    the system rows, the customers' totals and the in-flight sums); on SQLite one scan
    summed in Python. `claims()` streams the customer rows; the other answers are kept
    from the same pass (or computed by a pass of their own if asked for first).
    """

    def __init__(self, conn: Connection, seq: int, time_ms: int | None) -> None:
        self.conn = conn
        self.seq = seq
        self.time_ms = time_ms
        self._pg = conn.dialect.name == "postgresql"
        self._assets: list[tuple[str, int]] | None = None
        self._rest: _Rest | None = None

    # -- assets ----------------------------------------------------------------------------
    def assets(self) -> list[tuple[str, int]]:
        """Assets created at or before the cut, in creation order, with their decimals."""
        if self._assets is None:
            decimals = {
                str(r[0]): int(r[1])
                for r in self.conn.execute(text("SELECT symbol, decimals FROM assets"))
            }
            rows = self.conn.execute(
                text(
                    "SELECT command FROM events WHERE cmd = 'asset' AND kind = 'command' "
                    "AND status = 'accepted' AND seq <= :s ORDER BY seq"
                ),
                {"s": self.seq},
            )
            self._assets = []
            for (command,) in rows:
                symbol = str(json.loads(command)["symbol"])
                self._assets.append((symbol, decimals[symbol]))
        return list(self._assets)

    # -- customer claims -------------------------------------------------------------------
    def claims(self) -> Iterator[tuple[str, list[int]]]:
        """(account, claim per asset in `assets()` order) of customers, streamed."""
        symbols = [s for s, _ in self.assets()]
        rest = _Rest(len(symbols))
        rows = self._pg_rows(symbols) if self._pg else self._sqlite_rows(symbols)
        for kind, account, *values in rows:
            if kind == "c":
                yield account, [0 if v is None else int(v) for v in values]
            else:
                rest.add(kind, account, symbols, values)
        self._rest = rest

    def customer_totals(self) -> dict[str, tuple[int, int]]:
        """asset -> (sum of positive claims, sum of negated negative claims)."""
        rest = self._complete()
        return {
            s: (rest.positive[k], rest.negative[k])
            for k, (s, _) in enumerate(self.assets())
            if rest.positive[k] or rest.negative[k]
        }

    # -- the exchange's own accounts ------------------------------------------------------
    def system_balances(self) -> dict[tuple[str, str], int]:
        """(system account, asset) -> sum of its buckets, non-zero only."""
        return dict(self._complete().system)

    def custody(self) -> dict[str, int]:
        """asset -> what the ledger holds on chain (minus the custody account's balance)."""
        return {
            asset: -amount
            for (account, asset), amount in self._complete().system.items()
            if account == CUSTODY
        }

    def in_flight(self) -> dict[str, int]:
        """asset -> customer funds in `locked_withdrawal` (requested, not completed)."""
        rest = self._complete()
        return {s: rest.in_flight[k] for k, (s, _) in enumerate(self.assets()) if rest.in_flight[k]}

    # -- what this ledger does not keep (yet) -----------------------------------------------
    def index_prices(self) -> Mapping[str, int] | None:
        """None: the ledger records no index prices yet (the USD view is reported absent)."""
        return None

    def haircuts_ppm(self) -> Mapping[str, int] | None:
        """None: no margin/haircut configuration in the ledger yet (raw collateral only)."""
        return None

    # -- the one pass ------------------------------------------------------------------------
    def _complete(self) -> _Rest:
        if self._rest is None:
            for _ in self.claims():
                pass
        assert self._rest is not None
        return self._rest

    def _pg_rows(self, symbols: list[str]) -> Iterator[Any]:
        params: dict[str, Any] = {"s": self.seq}
        sums, claims, system, pos, neg, wd = [], [], [], [], [], []
        for k, symbol in enumerate(symbols):
            params[f"a{k}"] = symbol
            sums.append(f"sum(amount) FILTER (WHERE asset = :a{k}) AS c{k}")
            sums.append(
                f"sum(amount) FILTER (WHERE asset = :a{k} AND bucket = 'locked_withdrawal') AS w{k}"
            )
            claims.append(f"c{k}::text")
            pos.append(f"sum(greatest(c{k}, 0))::text")
            neg.append(f"sum(greatest(-c{k}, 0))::text")
            wd.append(f"sum(w{k})::text")
            system.append(f"c{k}::text")
        nonzero = " OR ".join(f"c{k} <> 0" for k in range(len(symbols))) or "false"
        sql = (
            f"WITH p AS MATERIALIZED (SELECT account, {', '.join(sums)} FROM postings "
            "WHERE seq <= :s GROUP BY account) "
            f"SELECT 'c', account, {', '.join(claims)} FROM p "
            f"WHERE {_USER} AND ({nonzero}) "
            f"UNION ALL SELECT 's', account, {', '.join(system)} FROM p WHERE {_SYSTEM} "
            f"UNION ALL SELECT 'p', NULL, {', '.join(pos)} FROM p WHERE {_USER} "
            f"UNION ALL SELECT 'n', NULL, {', '.join(neg)} FROM p WHERE {_USER} "
            f"UNION ALL SELECT 'w', NULL, {', '.join(wd)} FROM p WHERE {_USER}"
        )
        return iter(self.conn.execute(text(sql), params, execution_options=_STREAM))

    def _sqlite_rows(self, symbols: list[str]) -> Iterator[Any]:
        """The same rows as on PostgreSQL, from exact Python sums of the decimal text."""
        position = {s: k for k, s in enumerate(symbols)}
        n = len(symbols)
        sums: dict[str, list[int]] = {}
        held = [0] * n
        result: Any = self.conn.execute(
            text("SELECT account, asset, bucket, amount FROM postings WHERE seq <= :s"),
            {"s": self.seq},
            execution_options=_STREAM,
        )
        for account, asset, bucket, amount in result:
            k = position[asset]
            vector = sums.get(account)
            if vector is None:
                vector = sums[account] = [0] * n
            value = int(amount)
            vector[k] += value
            if bucket == "locked_withdrawal" and not account.startswith(SYSTEM_PREFIX):
                held[k] += value
        pos, neg = [0] * n, [0] * n
        for account, vector in sums.items():
            if account.startswith(SYSTEM_PREFIX):
                yield ("s", account, *vector)
                continue
            for k, value in enumerate(vector):
                if value > 0:
                    pos[k] += value
                elif value < 0:
                    neg[k] -= value
            if any(vector):
                yield ("c", account, *vector)
        yield ("p", None, *pos)
        yield ("n", None, *neg)
        yield ("w", None, *held)


class _Rest:
    """Everything but the customer rows, gathered while the claims stream."""

    def __init__(self, n: int) -> None:
        self.system: dict[tuple[str, str], int] = {}
        self.positive = [0] * n
        self.negative = [0] * n
        self.in_flight = [0] * n

    def add(self, kind: str, account: str | None, symbols: list[str], values: list[Any]) -> None:
        ints = [0 if v is None else int(v) for v in values]
        if kind == "s" and account is not None:
            for symbol, value in zip(symbols, ints, strict=True):
                if value:
                    self.system[(account, symbol)] = value
        elif kind == "p":
            self.positive = ints
        elif kind == "n":
            self.negative = ints
        elif kind == "w":
            self.in_flight = ints
