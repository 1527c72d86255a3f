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
    """Read-only queries at one sequence (see `por.snapshot.source.LedgerCut`)."""

    def __init__(self, conn: Connection, seq: int, time_ms: int | None) -> None:
        self.conn = conn
        self.seq = seq
        self.time_ms = time_ms
        self._pg = conn.dialect.name == "postgresql"
        self._system: dict[tuple[str, str], int] | None = None

    # -- assets ----------------------------------------------------------------------------
    def assets(self) -> list[tuple[str, int]]:
        """Assets created at or before the cut, in creation order, with their decimals."""
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
        out: list[tuple[str, int]] = []
        for (command,) in rows:
            symbol = str(json.loads(command)["symbol"])
            out.append((symbol, decimals[symbol]))
        return out

    # -- customer claims -------------------------------------------------------------------
    def claims(self) -> Iterator[tuple[str, str, int]]:
        """(account, asset, claim) of customers, non-zero claims only, streamed."""
        if self._pg:
            result = self.conn.execute(
                text(
                    "SELECT account, asset, sum(amount)::text FROM postings "
                    f"WHERE seq <= :s AND {_USER} GROUP BY account, asset "
                    "HAVING sum(amount) <> 0"
                ),
                {"s": self.seq},
                execution_options=_STREAM,
            )
            for account, asset, total in result:
                yield account, asset, int(total)
            return
        for (account, asset), total in self._sum_python(_USER).items():
            if total:
                yield account, asset, total

    def customer_totals(self) -> dict[str, tuple[int, int]]:
        """asset -> (sum of positive claims, sum of negated negative claims)."""
        if self._pg:
            rows = self.conn.execute(
                text(
                    "SELECT asset, sum(greatest(t, 0))::text, sum(greatest(-t, 0))::text "
                    "FROM (SELECT account, asset, sum(amount) AS t FROM postings "
                    f"WHERE seq <= :s AND {_USER} GROUP BY account, asset) AS c "
                    "GROUP BY asset"
                ),
                {"s": self.seq},
            )
            return {str(a): (int(p), int(n)) for a, p, n in rows}
        out: dict[str, tuple[int, int]] = {}
        for (_account, asset), total in self._sum_python(_USER).items():
            pos, neg = out.get(asset, (0, 0))
            out[asset] = (pos + max(total, 0), neg + max(-total, 0))
        return out

    # -- the exchange's own accounts ------------------------------------------------------
    def system_balances(self) -> dict[tuple[str, str], int]:
        """(system account, asset) -> sum of its buckets, non-zero only."""
        if self._system is None:
            if self._pg:
                rows = self.conn.execute(
                    text(
                        "SELECT account, asset, sum(amount)::text FROM postings "
                        f"WHERE seq <= :s AND {_SYSTEM} GROUP BY account, asset"
                    ),
                    {"s": self.seq},
                )
                sums = {(str(a), str(s)): int(t) for a, s, t in rows}
            else:
                sums = self._sum_python(_SYSTEM)
            self._system = {k: v for k, v in sums.items() if v}
        return dict(self._system)

    def custody(self) -> dict[str, int]:
        """asset -> what the ledger holds on chain (minus the custody account's balance)."""
        return {
            asset: -amount
            for (account, asset), amount in self.system_balances().items()
            if account == CUSTODY
        }

    def in_flight(self) -> dict[str, int]:
        """asset -> customer funds in `locked_withdrawal` (requested, not completed)."""
        where = f"seq <= :s AND {_USER} AND bucket = 'locked_withdrawal'"
        if self._pg:
            rows = self.conn.execute(
                text(f"SELECT asset, sum(amount)::text FROM postings WHERE {where} GROUP BY asset"),
                {"s": self.seq},
            )
            return {str(a): int(t) for a, t in rows if int(t)}
        out: dict[str, int] = {}
        for asset, amount in self.conn.execute(
            text(f"SELECT asset, amount FROM postings WHERE {where}"), {"s": self.seq}
        ):
            out[asset] = out.get(asset, 0) + int(amount)
        return {a: v for a, v in out.items() if v}

    # -- what this ledger does not keep (yet) -----------------------------------------------
    def index_prices(self) -> Mapping[str, int] | None:
        """None: the ledger records no index prices yet (the USD view is reported absent)."""
        return None

    def haircuts_ppm(self) -> Mapping[str, int] | None:
        """None: no margin/haircut configuration in the ledger yet (raw collateral only)."""
        return None

    # -- helpers -----------------------------------------------------------------------------
    def _sum_python(self, who: str) -> dict[tuple[str, str], int]:
        """Exact sums of decimal-text amounts per (account, asset), up to the cut."""
        sums: dict[tuple[str, str], int] = {}
        get = sums.get
        result: Any = self.conn.execute(
            text(f"SELECT account, asset, amount FROM postings WHERE seq <= :s AND {who}"),
            {"s": self.seq},
            execution_options=_STREAM,
        )
        for account, asset, amount in result:
            key = (account, asset)
            sums[key] = get(key, 0) + int(amount)
        return sums
