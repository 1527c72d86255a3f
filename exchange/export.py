"""The exchange side of a proof-of-reserves snapshot: consistent cuts of the SQL journal.

`SqlLedgerExport` implements the queries `por.snapshot.source.LedgerSource` declares, by
structure only (this package never imports `por`). A cut at sequence S is, by definition,
the sum of the postings with `seq <= S`. Those rows never change once written (triggers
refuse it), and events are committed whole, in sequence order, so a cut reads the same
however many events the exchange appends meanwhile: trading goes on during a snapshot.

The claims are read incrementally: the journal writer keeps per (account, asset) sums
current in the transaction that writes the postings (`exchange.claims`), so a cut reads
those rows in one statement and subtracts the postings after S (the few written since the
boundary, found by the primary key), never the whole history. The same sums recomputed
from every posting up to S (`SqlLedgerExport(..., from_journal=True)`) are the reference
that tests compare it with, leaf for leaf; a ledger whose maintained sums are behind its
journal (`head.claims_seq`: postings bulk-loaded around the writer) is cut that way too.

A cut can also say what changed since an earlier cut (`SqlLedgerCut.changes_since`): the
accounts with a posting in between (the postings' primary key is their seq) or opened in
between (the events' partial index), and those accounts' claims at both cuts, computed as
the cut computes them (the maintained claims less the postings after the cut) but read by
account: O(what changed), whatever the number of accounts. A snapshot keeps the previous
hour's claims and merges them with these (`por.snapshot.cut_claims`).

On PostgreSQL each cut is additionally one `REPEATABLE READ READ ONLY` transaction (one
MVCC snapshot for every query, no locks taken) and sums run in SQL on `NUMERIC`, exactly.
On SQLite, amounts are decimal text (its integers are 64-bit), so sums are done in Python
over the same rows: the same result, by aggregation up to the cut.

The cut for a boundary T is the last event with `ts < T` (events before the first clock
have no time and belong to every cut). It is final only once an event at or after T has
been committed; before that, earlier events may still arrive, and `cut` refuses.

Prices and collateral at the cut come from the same journal: the index of an asset is the
`index` its last accepted `index_price` event at or before the cut recorded
(`exchange.pricing`: USDC smallest units per whole unit; USDC itself is 10^6, i.e. 1.0,
unless it has an index), the collateral parameters are the accepted `collateral_params`
commands up to the cut folded as replay folds them, and the haircut values are computed by
`exchange.margin`'s own functions (`collateral_value`, `liability_value`): the ledger owns
its risk model, the snapshot only reports it.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from exchange.claims import HELD_BUCKET, opened_account
from exchange.errors import ExchangeError
from exchange.margin import (
    MarginState,
    collateral_value,
    fold_collateral_params,
    liability_value,
)
from exchange.model import CUSTODY, SYSTEM_PREFIX, format_time
from exchange.pricing import QUOTE_ASSET

__all__ = ["CutNotFinalError", "SqlLedgerChanges", "SqlLedgerCut", "SqlLedgerExport"]

DEFAULT_QUOTE_DECIMALS = 6  # the price scale when the ledger has no USDC asset (as margin)
_STREAM_ROWS = 50_000
_STREAM = {"stream_results": True, "yield_per": _STREAM_ROWS}  # per query, never sticky
_USER = "account NOT LIKE '@%'"
_SYSTEM = "account LIKE '@%'"
assert SYSTEM_PREFIX == "@"


class CutNotFinalError(ExchangeError):
    """The ledger has no event at or after the boundary yet: the cut could still grow."""


class SqlLedgerExport:
    """Cuts of a ledger stored by `exchange.store.SqlJournal` (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: Engine, *, work_mem: str = "256MB", from_journal: bool = False
    ) -> None:
        self.engine = engine
        self.work_mem = work_mem  # PostgreSQL: per-cut memory for hashing 1M+ groups in RAM
        self.from_journal = from_journal  # the reference: every posting up to the cut

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
                yield _open_cut(conn, boundary_ms, self.from_journal)


def _open_cut(conn: Connection, boundary_ms: int, from_journal: bool) -> SqlLedgerCut:
    """Binary search over `seq` (primary key): ledger time never decreases along the
    journal (docs/ledger.md), and events before the first clock (NULL time) come first."""
    head = conn.execute(text("SELECT seq, ts, claims_seq FROM head WHERE id = 1")).first()
    head_seq, head_ts = (0, None) if head is None else (int(head[0]), head[1])
    maintained = head is not None and int(head[2]) == head_seq and not from_journal
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
    return SqlLedgerCut(conn, seq, ts_of(seq) if seq > 0 else None, maintained=maintained)


class SqlLedgerCut:
    """Read-only queries at one sequence (see `por.snapshot.source.LedgerCut`).

    One pass yields everything. It reads the maintained claims less the postings after the
    cut (`maintained`): on PostgreSQL one statement grouped in the claims' key order,
    streamed as the server goes (`_pg_maintained`); or else every posting up to the cut
    (the reference): on PostgreSQL one query (per-account sums pivoted by asset,
    materialised once, then the customer rows, the system rows, the customers' totals and
    the in-flight sums). On SQLite either is one scan summed in Python. `claims()` streams
    the customer rows; the other answers are kept from the same pass (or computed by a
    pass of their own if asked for first).
    """

    def __init__(
        self, conn: Connection, seq: int, time_ms: int | None, *, maintained: bool = False
    ) -> None:
        self.conn = conn
        self.seq = seq
        self.time_ms = time_ms
        self.maintained = maintained  # read the claims table, not the whole journal
        self._pg = conn.dialect.name == "postgresql"
        self._assets: list[tuple[str, int]] | None = None
        self._margin: MarginState | None = None
        self._rest: _Rest | None = None
        self._prices: dict[str, int] | None = None
        self._borrowers: _Borrowers | None = None

    # -- assets, collateral parameters ---------------------------------------------------
    def assets(self) -> list[tuple[str, int]]:
        """Assets created at or before the cut, in creation order, with their decimals."""
        return list(self._facts()[0])

    def _facts(self) -> tuple[list[tuple[str, int]], MarginState]:
        """One pass over the configuration events up to the cut: the assets, in creation
        order, and the collateral parameters as replay rebuilds them."""
        if self._assets is None or self._margin is None:
            decimals = {
                str(r[0]): int(r[1])
                for r in self.conn.execute(text("SELECT symbol, decimals FROM assets"))
            }
            rows = self.conn.execute(
                text(
                    "SELECT cmd, command FROM events WHERE cmd IN ('asset', 'collateral_params') "
                    "AND kind = 'command' AND status = 'accepted' AND seq <= :s ORDER BY seq"
                ),
                {"s": self.seq},
            )
            assets: list[tuple[str, int]] = []
            params: list[str] = []
            for cmd, command in rows:
                if cmd == "asset":
                    symbol = str(json.loads(command)["symbol"])
                    assets.append((symbol, decimals[symbol]))
                else:
                    params.append(str(command))
            self._assets, self._margin = assets, fold_collateral_params(params)
        return self._assets, self._margin

    # -- customer claims -------------------------------------------------------------------
    def claims(self) -> Iterator[tuple[str, list[int]]]:
        """(account, claim per asset in `assets()` order) of every open customer account,
        streamed: zero claims too (an account opened, or emptied, still has its leaf)."""
        symbols = [s for s, _ in self.assets()]
        rest = _Rest(len(symbols))
        if self._pg and self.maintained:
            yield from self._pg_maintained(symbols, rest)
            self._rest = rest
            return
        rows = self._pg_rows(symbols) if self._pg else self._sqlite_rows(symbols)
        debtors = rest.debtors
        seen: set[str] = set()
        for kind, account, *values in rows:
            if kind == "c":
                claim = [0 if v is None else int(v) for v in values]
                if claim and min(claim) < 0:
                    debtors[account] = claim
                seen.add(account)
                yield account, claim
            else:
                rest.add(kind, account, symbols, values)
        if not self.maintained:  # (the maintained pass has them: opened_accounts)
            for account in self._opened_accounts():
                if account not in seen:
                    seen.add(account)
                    yield account, [0] * len(symbols)
        self._rest = rest

    def _opened_accounts(self) -> Iterator[str]:
        """Customer accounts opened by an accepted `account` command up to the cut (an
        account opened by its first deposit has postings, hence a row already)."""
        result = self.conn.execute(
            text(
                "SELECT command FROM events WHERE cmd = 'account' AND status = 'accepted'"
                " AND seq <= :s ORDER BY seq"
            ),
            {"s": self.seq},
        )
        for (command,) in result:
            account = json.loads(command).get("id")
            if isinstance(account, str) and not account.startswith(SYSTEM_PREFIX):
                yield account

    def customer_totals(self) -> dict[str, tuple[int, int]]:
        """asset -> (sum of positive claims, sum of negated negative claims)."""
        rest = self._complete()
        return {
            s: (rest.positive[k], rest.negative[k])
            for k, (s, _) in enumerate(self.assets())
            if rest.positive[k] or rest.negative[k]
        }

    # -- the exchange's own accounts ------------------------------------------------------
    custody_account = CUSTODY  # the counterpart of the "onchain" bucket (exchange.model)

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

    # -- prices and the collateral of borrowers ------------------------------------------
    def price_decimals(self) -> int:
        """Scale of index prices and of every value below: USD (= USDC) x 10^decimals of
        USDC, the unit `exchange.pricing` quotes every index in."""
        return dict(self.assets()).get(QUOTE_ASSET, DEFAULT_QUOTE_DECIMALS)

    def index_prices(self) -> dict[str, int] | None:
        """asset -> its index at the cut (USD x 10^price_decimals per whole unit), for the
        assets that have one; None when no asset has a price.

        The index of X is the one its last accepted `index_price` event at or before the cut
        recorded (event data `index`). The journal is read backwards from the cut and stops
        once every asset is found. USDC without an index of its own is 1.0 by definition.
        """
        if self._prices is None:
            assets = dict(self.assets())
            prices: dict[str, int] = {}
            result: Any = self.conn.execute(
                text(
                    "SELECT command, data FROM events WHERE cmd = 'index_price' "
                    "AND status = 'accepted' AND seq <= :s ORDER BY seq DESC"
                ),
                {"s": self.seq},
                execution_options={"stream_results": True, "yield_per": 1_000},
            )
            try:
                for command, data in result:
                    asset = str(json.loads(command)["asset"])
                    if asset in assets and asset not in prices:
                        prices[asset] = _recorded_index(command, data)
                        if len(prices) == len(assets):
                            break
            finally:
                result.close()
            if QUOTE_ASSET in assets and QUOTE_ASSET not in prices:
                prices[QUOTE_ASSET] = 10 ** assets[QUOTE_ASSET]
            self._prices = prices
        return dict(self._prices) if self._prices else None

    def borrower_collateral(self) -> dict[str, tuple[int, int, int, int]]:
        """asset -> (debt, collateral, debt_value, collateral_value) over the borrowing
        accounts (customers with a negative claim in any asset), computed with the margin
        module's own functions:

        - debt: sum of their negated negative claims (equals the customers' debt total);
        - collateral: sum of their positive margin balances, i.e. the claim less funds
          locked by a pending withdrawal (a pending withdrawal is no collateral);
        - debt_value: sum over accounts of `liability_value` (rounded up), 0 without price;
        - collateral_value: sum over accounts of `collateral_value` (value and haircut
          weight rounded down; no price or no weight: 0).

        Values are USD x 10^price_decimals. Every asset of `assets()` is present.
        """
        return {k: v.as_tuple() for k, v in self._borrower_view().assets.items()}

    def borrower_shortfall(self) -> tuple[int, int, int]:
        """(borrowing accounts, under-collateralised ones, sum of their shortfalls).

        An account is under-collateralised when its collateral value after haircuts is
        below the value of its debts, or when it owes an asset without a price (its debt
        cannot be shown covered; the shortfall then counts its priced part only)."""
        view = self._borrower_view()
        return view.accounts, view.under, view.shortfall

    def _borrower_view(self) -> _Borrowers:
        if self._borrowers is None:
            rest = self._complete()
            assets, margin = self._facts()
            self._borrowers = _Borrowers.compute(
                assets,
                rest.debtors,
                rest.withdrawing,
                self.index_prices() or {},
                margin,
                self.price_decimals(),
            )
        return self._borrowers

    # -- what changed since an earlier cut -------------------------------------------------
    def changes_since(self, seq: int, watch: Collection[str] = ()) -> SqlLedgerChanges | None:
        """What changed between the cut at `seq` (an earlier cut of this ledger) and this
        one (see `SqlLedgerChanges`), read by account: the postings in (seq, self.seq] by
        their primary key, the accounts opened in it by the events' partial index, then the
        maintained claims, the openings and the postings after the cut of those accounts
        and of `watch` (the caller's borrowers and system accounts at `seq`).

        None when this cut is the reference (`maintained` False: every posting is summed,
        there is no per-account row to read) or `seq` is not in [0, self.seq]: the caller
        reads the whole cut instead."""
        if not self.maintained or not 0 <= seq <= self.seq:
            return None
        return SqlLedgerChanges.read(self, seq, watch)

    # -- the one pass ------------------------------------------------------------------------
    def _complete(self) -> _Rest:
        if self._rest is None:
            for _ in self.claims():
                pass
        assert self._rest is not None
        return self._rest

    def _pg_rows(self, symbols: list[str]) -> Iterator[Any]:
        """The reference on PostgreSQL: every posting up to the cut, summed per account in
        one pass (materialised once), then the customer rows, the system rows, the totals,
        the in-flight sums and the withdrawing debtors (the maintained claims are read by
        `_pg_maintained`)."""
        params: dict[str, Any] = {"s": self.seq}
        sums, claims, system, pos, neg, wd, held = [], [], [], [], [], [], []
        for k, symbol in enumerate(symbols):
            params[f"a{k}"] = symbol
            sums.append(f"sum(amount) FILTER (WHERE asset = :a{k}) AS c{k}")
            claims.append(f"c{k}::text")
            pos.append(f"sum(greatest(c{k}, 0))::text")
            neg.append(f"sum(greatest(-c{k}, 0))::text")
            wd.append(f"sum(w{k})::text")
            held.append(f"w{k}::text")
            system.append(f"c{k}::text")
        negative = " OR ".join(f"c{k} < 0" for k in range(len(symbols))) or "false"
        withdrawing = " OR ".join(f"w{k} <> 0" for k in range(len(symbols))) or "false"
        sums += [
            f"sum(amount) FILTER (WHERE asset = :a{k} AND bucket = '{HELD_BUCKET}') AS w{k}"
            for k in range(len(symbols))
        ]
        sql = (
            f"WITH p AS MATERIALIZED (SELECT account, {', '.join(sums)} FROM postings "
            "WHERE seq <= :s GROUP BY account) "
            f"SELECT 'c', account, {', '.join(claims)} FROM p WHERE {_USER} "
            f"UNION ALL SELECT 's', account, {', '.join(system)} FROM p WHERE {_SYSTEM} "
            f"UNION ALL SELECT 'p', NULL, {', '.join(pos)} FROM p WHERE {_USER} "
            f"UNION ALL SELECT 'n', NULL, {', '.join(neg)} FROM p WHERE {_USER} "
            f"UNION ALL SELECT 'w', NULL, {', '.join(wd)} FROM p WHERE {_USER} "
            f"UNION ALL SELECT 'b', account, {', '.join(held)} FROM p WHERE {_USER} "
            f"AND ({negative}) AND ({withdrawing})"
        )
        return iter(self.conn.execute(text(sql), params, execution_options=_STREAM))

    def _pg_maintained(self, symbols: list[str], rest: _Rest) -> Iterator[tuple[str, list[int]]]:
        """The customers' claims from the maintained claims, streamed, and `rest` filled
        as they pass (the same answers as the reference's rows): now's claims less the
        postings after the cut, by pair (a pair counts from its first posting: a pair first
        posted after the cut has only postings after it, it and they are left out
        together), and the accounts opened by command with no pair yet.

        The claims are grouped in their primary key's order (account, asset): the server
        reads each account's rows as they pass and sends it at once, so it never builds (and
        spills) a hash of every account before the first row. One row per pair (the primary
        key), so `max` is that pair's value, read without numeric addition (27 against 43 s
        of server time for 40M rows with `sum`); the held funds (pending withdrawals, rare)
        come as 'asset:amount,...' of the pairs holding any, NULL for the others. What is
        taken off (the postings after the cut, few when the hour is published on time) and
        the accounts without a pair are read first, by key. Each claim vector is one text
        'v0,v1,...' parsed in C. The totals and held sums are added up here, exactly.

        Fetched in this thread, chunk by chunk: a fetching thread of its own (to overlap the
        server with this work) was measured 1.7x slower at 10M accounts, its many short
        reads each waiting for the GIL this thread holds."""
        n = len(symbols)
        params: dict[str, Any] = {"s": self.seq, "h": HELD_BUCKET}
        for k, symbol in enumerate(symbols):
            params[f"a{k}"] = symbol

        later: dict[str, tuple[list[int], list[int]]] = {}
        with _by_key(self.conn):
            after = self.conn.execute(
                text(
                    f"SELECT account, {_vector_sql('amount', n)}, "
                    f"{_vector_sql('amount', n, ' AND bucket = :h')} "
                    "FROM (SELECT p.account, p.asset, p.bucket, p.amount FROM postings p "
                    "JOIN claims c ON c.account = p.account AND c.asset = p.asset "
                    "AND c.first_seq <= :s WHERE p.seq > :s) t GROUP BY account"
                ),
                params,
            )
            for account, amounts, held_amounts in after:
                later[account] = (_ints(amounts, n), _ints(held_amounts, n))
            bare = self.conn.execute(
                text(
                    "SELECT account FROM opened_accounts o WHERE seq <= :s AND NOT EXISTS "
                    "(SELECT 1 FROM claims c WHERE c.account = o.account AND c.first_seq <= :s)"
                ),
                params,
            ).all()
        stream = text(
            f"SELECT account, {_vector_sql('amount', n, fold='max')}, "
            "string_agg(asset || ':' || held, ',') FILTER (WHERE held <> 0) "
            "FROM claims WHERE first_seq <= :s GROUP BY account ORDER BY account"
        )
        position = {symbol: k for k, symbol in enumerate(symbols)}
        total = [0] * n  # customers' claims, per asset
        negative = [0] * n  # customers' debts (negated negative claims)
        in_flight = [0] * n
        held_by: dict[str, list[int]] = {}
        debtors = rest.debtors
        add, sub, ints = operator.add, operator.sub, _ints
        with _grouped_in_order(self.conn):
            result = self.conn.execute(stream, params, execution_options=_STREAM)
            for account, claim_text, held_text in result:
                claim = ints(claim_text, n)
                held = None if held_text is None else _held(held_text, position)
                taken = later.get(account)
                if taken is not None:
                    claim = list(map(sub, claim, taken[0]))
                    held = list(map(sub, held or [0] * n, taken[1]))
                if account.startswith(SYSTEM_PREFIX):
                    rest.add("s", account, symbols, claim)
                    continue
                total = list(map(add, total, claim))
                if claim and min(claim) < 0:
                    debtors[account] = claim
                    negative = [m - v if v < 0 else m for m, v in zip(negative, claim, strict=True)]
                if held is not None:
                    in_flight = list(map(add, in_flight, held))
                    held_by[account] = held
                yield account, claim
        for (account,) in bare:
            if not account.startswith(SYSTEM_PREFIX):
                yield account, [0] * n
        rest.positive = [t + m for t, m in zip(total, negative, strict=True)]
        rest.negative = negative
        rest.in_flight = in_flight
        for account, held in held_by.items():
            if account in debtors and any(held):
                rest.withdrawing[account] = held

    def _sqlite_rows(self, symbols: list[str]) -> Iterator[Any]:
        """The same rows as on PostgreSQL, from exact Python sums of the decimal text."""
        position = {s: k for k, s in enumerate(symbols)}
        n = len(symbols)
        sums: dict[str, list[int]] = {}
        held_by: dict[str, list[int]] = {}
        if self.maintained:
            self._sqlite_maintained(position, sums, held_by)
        else:
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
                if bucket == HELD_BUCKET:
                    mine = held_by.get(account)
                    if mine is None:
                        mine = held_by[account] = [0] * n
                    mine[k] += value
        held = [0] * n
        for account, vector in held_by.items():
            if not account.startswith(SYSTEM_PREFIX):
                held = [a + b for a, b in zip(held, vector, strict=True)]
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
            yield ("c", account, *vector)
        yield ("p", None, *pos)
        yield ("n", None, *neg)
        yield ("w", None, *held)
        for account, vector in held_by.items():
            if any(vector) and not account.startswith(SYSTEM_PREFIX) and min(sums[account]) < 0:
                yield ("b", account, *vector)

    def _sqlite_maintained(
        self,
        position: dict[str, int],
        sums: dict[str, list[int]],
        held_by: dict[str, list[int]],
    ) -> None:
        """`sums` and `held_by` at the cut from the claims table less the postings after
        it, read in ONE statement (one SQLite read snapshot, whatever is written meanwhile);
        accounts present at the cut only (a row counts from its first posting)."""
        n = len(position)
        present: set[str] = set()
        result: Any = self.conn.execute(
            text(
                "SELECT 0, account, asset, amount, held, first_seq FROM claims UNION ALL "
                f"SELECT 1, account, asset, amount, bucket = '{HELD_BUCKET}', seq FROM postings "
                "WHERE seq > :s UNION ALL "
                "SELECT 2, account, NULL, NULL, NULL, seq FROM opened_accounts WHERE seq <= :s"
            ),
            {"s": self.seq},
            execution_options=_STREAM,
        )
        for source, account, asset, amount, held, seq in result:
            vector = sums.get(account)
            if vector is None:
                vector = sums[account] = [0] * n
            if source == 2:
                present.add(account)
                continue
            k = position.get(asset)
            if k is None:  # an asset created after the cut: all its postings are after it
                continue
            if source == 0:
                value, hold = int(amount), int(held)
                if seq <= self.seq:
                    present.add(account)
            else:
                value = -int(amount)
                hold = value if held else 0
            vector[k] += value
            if hold:
                mine = held_by.get(account)
                if mine is None:
                    mine = held_by[account] = [0] * n
                mine[k] += hold
        for account in sums.keys() - present:
            del sums[account]
            held_by.pop(account, None)


class SqlLedgerChanges:
    """What changed between two cuts of one ledger, at `since` and at `cut.seq` (see
    `por.snapshot.source.LedgerChanges`), all computed in `read`:

    - `since`, `since_time_ms`: the earlier cut and the ledger time of its event (a caller
      checks that the cut it kept is this ledger's);
    - `claims()`: (account, claims at `since` or None if the account did not exist then,
      claims at the cut) of every customer account with a posting or opened in (since, seq];
    - `totals_change()` and `in_flight_change()`: the change of `customer_totals()` and of
      `in_flight()` between the two cuts, from those accounts' claims at both;
    - `system_balances()`, `custody()`, `borrower_collateral()`, `borrower_shortfall()`: the
      cut's own answers, complete, computed from the changed accounts and the watched ones
      (a system account or a borrower at the cut either changed or was one at `since`).

    Claims at the cut are exactly the full cut's: the maintained row less the postings
    after the cut, a pair counting from its first posting, an account from its first
    posting or its opening; at `since`, that less the postings in between.
    """

    def __init__(self, symbols: list[str], since: int, since_time_ms: int | None) -> None:
        n = len(symbols)
        self.since = since
        self.since_time_ms = since_time_ms  # the ledger time of the event at `since`
        self.symbols = symbols
        self.changed: list[tuple[str, list[int] | None, list[int]]] = []
        self.positive = [0] * n
        self.negative = [0] * n
        self.in_flight = [0] * n
        self.system: dict[tuple[str, str], int] = {}
        self.book: _Borrowers | None = None

    @classmethod
    def read(cls, cut: SqlLedgerCut, since: int, watch: Collection[str]) -> SqlLedgerChanges:
        symbols = [s for s, _ in cut.assets()]
        conn, seq, n = cut.conn, cut.seq, len(symbols)
        opened = _opened_between(conn, since, seq)
        if cut._pg:
            changed = _pg_window_accounts(conn, since, seq) | opened
            accounts = sorted(changed.union(watch))
            rows = _pg_accounts(conn, since, seq, accounts, symbols)
        else:
            position = {s: k for k, s in enumerate(symbols)}
            moved, moved_held = _window(conn, since, seq, position)
            changed = set(moved) | opened
            accounts = sorted(changed.union(watch))
            rows = _sqlite_accounts(conn, seq, accounts, position, moved, moved_held)
        at = conn.execute(text("SELECT ts FROM events WHERE seq = :a"), {"a": since}).scalar()
        out = cls(symbols, since, None if at is None else int(at))
        afters: list[list[int]] = []  # every customer's claims at the cut
        befores: list[list[int]] = []  # and at `since`, of those open then
        held_moves: list[list[int]] = []
        debtors: dict[str, list[int]] = {}
        withdrawing: dict[str, list[int]] = {}
        for account in accounts:
            row = rows.get(account)
            if row is None or row[0] > seq:  # not open at the cut (a watched id never was)
                continue
            start, after, moves, held, held_moved = row
            if account.startswith(SYSTEM_PREFIX):
                for symbol, value in zip(symbols, after, strict=True):
                    if value:
                        out.system[(account, symbol)] = value
                continue
            before = after if moves is None else [a - m for a, m in zip(after, moves, strict=True)]
            existed = start <= since
            if account in changed:
                out.changed.append((account, before if existed else None, after))
            afters.append(after)
            if existed:
                befores.append(before)
            if held_moved is not None:
                held_moves.append(held_moved)
            if min(after, default=0) < 0:
                debtors[account] = after
                if held is not None and any(held):
                    withdrawing[account] = held
        for k in range(n):  # column sums in C: max(x, 0) summed is the sum of the x > 0
            now = [v[k] for v in afters]
            then = [v[k] for v in befores]
            out.positive[k] = sum(filter(_ZERO.__lt__, now)) - sum(filter(_ZERO.__lt__, then))
            out.negative[k] = sum(filter(_ZERO.__gt__, then)) - sum(filter(_ZERO.__gt__, now))
            out.in_flight[k] = sum(v[k] for v in held_moves)
        assets, margin = cut._facts()
        out.book = _Borrowers.compute(
            assets, debtors, withdrawing, cut.index_prices() or {}, margin, cut.price_decimals()
        )
        return out

    def claims(self) -> Iterator[tuple[str, list[int] | None, list[int]]]:
        for account, before, after in self.changed:
            yield account, None if before is None else list(before), list(after)

    def totals_change(self) -> dict[str, tuple[int, int]]:
        """asset -> (change of the positive claims' sum, change of the debts' sum)."""
        return {
            s: (self.positive[k], self.negative[k])
            for k, s in enumerate(self.symbols)
            if self.positive[k] or self.negative[k]
        }

    def in_flight_change(self) -> dict[str, int]:
        return {s: self.in_flight[k] for k, s in enumerate(self.symbols) if self.in_flight[k]}

    def system_balances(self) -> dict[tuple[str, str], int]:
        return dict(self.system)

    def custody(self) -> dict[str, int]:
        return {asset: -v for (account, asset), v in self.system.items() if account == CUSTODY}

    def borrower_collateral(self) -> dict[str, tuple[int, int, int, int]]:
        assert self.book is not None
        return {k: v.as_tuple() for k, v in self.book.assets.items()}

    def borrower_shortfall(self) -> tuple[int, int, int]:
        assert self.book is not None
        return self.book.accounts, self.book.under, self.book.shortfall


_NEVER = 1 << 62  # a seq after every cut
_ZERO = 0

_Account = tuple[int, list[int], list[int] | None, list[int] | None, list[int] | None]
"""(seq it is open from, claims at the cut, sums of its postings between the two cuts,
funds held at the cut, held funds' change between the cuts); None: all zero."""


def _opened_between(conn: Connection, since: int, seq: int) -> set[str]:
    """Customer accounts an accepted `account` command opened in (since, seq] (the
    events' partial index on `account` commands)."""
    result = conn.execute(
        text(
            "SELECT command FROM events WHERE cmd = 'account' AND status = 'accepted'"
            " AND seq > :a AND seq <= :s"
        ),
        {"a": since, "s": seq},
    )
    return {a for (command,) in result if (a := opened_account(command)) is not None}


def _pg_window_accounts(conn: Connection, since: int, seq: int) -> set[str]:
    """The accounts with a posting in (since, seq]: a primary-key range of the journal."""
    result = conn.execute(
        text("SELECT DISTINCT account FROM postings WHERE seq > :a AND seq <= :s"),
        {"a": since, "s": seq},
    )
    return {str(a) for (a,) in result}


def _pg_accounts(
    conn: Connection, since: int, seq: int, accounts: list[str], symbols: list[str]
) -> dict[str, _Account]:
    """`_Account` of each of `accounts`, in ONE statement summed in the server (exact
    NUMERIC; one row per account, each vector one text 'v0,v1,...' parsed in C, NULL when
    all zero): the maintained claims less the postings after the cut, the postings between
    the cuts, the opening; all looked up by key."""
    n = len(symbols)
    params: dict[str, Any] = {"x": accounts, "a": since, "s": seq, "h": HELD_BUCKET}

    def sparse(value: str) -> str:  # NULL when zero in every asset
        return f"CASE WHEN bool_or({value} <> 0) THEN {_vector_sql(value, n)} END"

    for k, symbol in enumerate(symbols):
        params[f"a{k}"] = symbol
    among = "account = ANY(CAST(:x AS text[]))"
    sums = "sum(amount) AS amount, sum(amount) FILTER (WHERE bucket = :h) AS held"
    sql = (
        f"WITH w AS (SELECT account, asset, {sums} FROM postings "
        "WHERE seq > :a AND seq <= :s GROUP BY account, asset), "
        f"t AS (SELECT account, asset, {sums} FROM postings WHERE seq > :s AND {among} "
        "GROUP BY account, asset), "
        "r AS (SELECT c.account, c.asset, c.first_seq, "
        "c.amount - coalesce(t.amount, 0) AS after, w.amount AS moved, "
        "c.held - coalesce(t.held, 0) AS held, w.held AS held_moved "
        "FROM claims c LEFT JOIN t USING (account, asset) LEFT JOIN w USING (account, asset) "
        f"WHERE c.{among}) "
        f"SELECT 0, account, min(first_seq), {_vector_sql('after', n)}, {sparse('moved')}, "
        f"{sparse('held')}, {sparse('held_moved')} FROM r GROUP BY account "
        f"UNION ALL SELECT 1, account, seq, NULL, NULL, NULL, NULL FROM opened_accounts "
        f"WHERE {among}"
    )
    out: dict[str, _Account] = {}
    if not accounts:
        return out
    with _by_key(conn):
        rows = conn.execute(text(sql), params).all()
    opened: dict[str, int] = {}
    for source, account, at, *texts in rows:
        if source == 1:
            opened[account] = int(at)
            continue
        after, moved, held, held_moved = (None if t is None else _ints(t, n) for t in texts)
        out[account] = (int(at), after or [0] * n, moved, held, held_moved)
    for account, at in opened.items():
        row = out.get(account)
        if row is None:
            out[account] = (at, [0] * n, None, None, None)
        elif at < row[0]:
            out[account] = (at, *row[1:])
    return out


def _window(
    conn: Connection, since: int, seq: int, position: dict[str, int]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per account, the sums of its postings in (since, seq] and of their held part, by
    asset, summed in Python (SQLite's decimal text): a primary-key range (the journal's
    rows never change, so any snapshot reads the same)."""
    n = len(position)
    moved: dict[str, list[int]] = {}
    held: dict[str, list[int]] = {}
    result: Any = conn.execute(
        text(
            "SELECT account, asset, amount, bucket = :h FROM postings WHERE seq > :a AND seq <= :s"
        ),
        {"a": since, "s": seq, "h": HELD_BUCKET},
        execution_options=_STREAM,
    )
    for account, asset, amount, is_held in result:
        vector = moved.get(account)
        if vector is None:
            vector = moved[account] = [0] * n
        k = position.get(asset)
        if k is None:  # (no asset created after the cut has a posting before it)
            continue
        value = int(amount)
        vector[k] += value
        if is_held:
            mine = held.get(account)
            if mine is None:
                mine = held[account] = [0] * n
            mine[k] += value
    return moved, held


def _sqlite_accounts(
    conn: Connection,
    seq: int,
    accounts: list[str],
    position: dict[str, int],
    moved: dict[str, list[int]],
    moved_held: dict[str, list[int]],
) -> dict[str, _Account]:
    """`_Account` of each of `accounts`: their maintained rows less their postings after
    the cut, read in ONE statement (one SQLite read snapshot, whatever is written
    meanwhile), by key (the claims' and openings' primary key, the postings' seq)."""
    n = len(position)
    now: dict[str, list[int]] = {}
    held: dict[str, list[int]] = {}
    start: dict[str, int] = {}
    if not accounts:
        return {}
    among = "IN (SELECT value FROM json_each(:x))"
    rows = conn.execute(
        text(
            f"SELECT 0, account, asset, amount, held, first_seq FROM claims "
            f"WHERE account {among} UNION ALL "
            "SELECT 1, account, asset, amount, CASE WHEN bucket = :h THEN amount ELSE '0' END, "
            f"seq FROM postings WHERE seq > :s AND account {among} UNION ALL "
            f"SELECT 2, account, NULL, NULL, NULL, seq FROM opened_accounts WHERE account {among}"
        ),
        {"x": json.dumps(accounts), "s": seq, "h": HELD_BUCKET},
    ).all()
    for source, account, asset, value, hold_value, at in rows:
        if source != 1:
            start[account] = min(start.get(account, _NEVER), int(at))
        if source == 2:
            continue
        k = position.get(asset)
        if k is None:  # an asset created after the cut: all its postings are after it
            continue
        sign = 1 if source == 0 else -1
        vector = now.get(account)
        if vector is None:
            vector = now[account] = [0] * n
        vector[k] += sign * int(value)
        h = int(hold_value)
        if h:
            mine = held.get(account)
            if mine is None:
                mine = held[account] = [0] * n
            mine[k] += sign * h
    return {
        account: (
            at,
            now.get(account) or [0] * n,
            moved.get(account),
            held.get(account),
            moved_held.get(account),
        )
        for account, at in start.items()
    }


@contextmanager
def _by_key(conn: Connection) -> Iterator[None]:
    """PostgreSQL looking rows up by key for one statement: a few thousand accounts by
    primary key cost milliseconds, but the planner (random_page_cost) prices that above a
    parallel scan of every claim, which grows with the accounts; and no JIT compilation
    (tens of ms, for a statement that runs once)."""
    with _turned_off(conn, ("enable_seqscan", "jit")):
        yield


@contextmanager
def _grouped_in_order(conn: Connection) -> Iterator[None]:
    """PostgreSQL grouping the claims in their key's order for one statement: a hash of
    every account (10^7 groups) is built, and spilled, before its first row is sent, while
    groups over the primary key's order stream at once and hold one account; the planner
    (which guesses a few hundred groups) would hash. No JIT either (the statement runs once,
    and compiling costs more than it saves)."""
    with _turned_off(conn, ("enable_hashagg", "jit")):
        yield


@contextmanager
def _turned_off(conn: Connection, settings: tuple[str, ...]) -> Iterator[None]:
    """The settings off, transaction-local, and restored after (other statements of the
    same cut keep the server's choice). Not after an error: the transaction is lost then,
    and a restore would fail too and hide the first error behind its own."""
    if conn.dialect.name != "postgresql":
        yield
        return
    before = [conn.execute(text(f"SELECT current_setting('{name}')")).scalar() for name in settings]
    for name in settings:
        conn.execute(text(f"SELECT set_config('{name}', 'off', true)"))
    yield
    for name, value in zip(settings, before, strict=True):
        conn.execute(text(f"SELECT set_config('{name}', :v, true)"), {"v": value})


def _vector_sql(value: str, n: int, where: str = "", fold: str = "sum") -> str:
    """SQL of one text 'v0,v1,...' per group: `fold(value)` of each asset :a0..:a{n-1}
    (zero when absent; `where` narrows the rows further), parsed back by `_ints`."""
    sums = [f"coalesce({fold}({value}) FILTER (WHERE asset = :a{k}{where}), 0)" for k in range(n)]
    return f"concat_ws(',', {', '.join(sums)})" if sums else "''"


def _ints(values: str, n: int) -> list[int]:
    """A 'v0,v1,...' vector of n decimal texts (concat_ws), parsed in C."""
    return list(map(int, values.split(","))) if n else []


def _held(pairs: str, position: dict[str, int]) -> list[int]:
    """The held vector of 'asset:amount,...' (the pairs with funds held)."""
    out = [0] * len(position)
    for pair in pairs.split(","):
        asset, _, amount = pair.partition(":")
        out[position[asset]] = int(amount)
    return out


class _Rest:
    """Everything but the customer rows, gathered while the claims stream."""

    def __init__(self, n: int) -> None:
        self.system: dict[tuple[str, str], int] = {}
        self.positive = [0] * n
        self.negative = [0] * n
        self.in_flight = [0] * n
        self.debtors: dict[str, list[int]] = {}  # customers with a negative claim
        self.withdrawing: dict[str, list[int]] = {}  # their funds in locked_withdrawal

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
        elif kind == "b" and account is not None:
            self.withdrawing[account] = ints


def _recorded_index(command: str, data: str | None) -> int:
    """The index an accepted `index_price` event set: its data's `index` (both the sourced
    and the operator form record it); the operator's `price` for an event without data."""
    if data is not None:
        recorded = json.loads(data).get("index")
        if recorded is not None:
            return int(recorded)
    return int(json.loads(command)["price"])


class _AssetCollateral:
    __slots__ = ("collateral", "collateral_value", "debt", "debt_value")

    def __init__(self) -> None:
        self.debt = self.collateral = self.debt_value = self.collateral_value = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.debt, self.collateral, self.debt_value, self.collateral_value


class _Borrowers:
    """The collateral of borrowing accounts, per asset and per account (see
    `SqlLedgerCut.borrower_collateral`)."""

    def __init__(self, symbols: list[str]) -> None:
        self.assets = {s: _AssetCollateral() for s in symbols}
        self.accounts = self.under = self.shortfall = 0

    @classmethod
    def compute(
        cls,
        assets: list[tuple[str, int]],
        debtors: Mapping[str, list[int]],
        withdrawing: Mapping[str, list[int]],
        prices: Mapping[str, int],
        margin: MarginState,
        quote_decimals: int,
    ) -> _Borrowers:
        out = cls([s for s, _ in assets])
        rows = [(out.assets[s], d, prices.get(s), margin.collateral_of(s)) for s, d in assets]
        none = [0] * len(assets)
        for account in sorted(debtors):  # sorted: the same sums in the same order every time
            claims = debtors[account]
            held = withdrawing.get(account, none)
            owed = covered = 0
            unpriced = False
            for (line, decimals, price, params), claim, pending in zip(
                rows, claims, held, strict=True
            ):
                if claim < 0:
                    line.debt -= claim
                    if price is None:
                        unpriced = True
                        continue
                    value = liability_value(-claim, price, decimals)
                    line.debt_value += value
                    owed += value
                    continue
                net = claim - pending
                if net <= 0:
                    continue
                line.collateral += net
                if price is not None:
                    value = collateral_value(net, price, decimals, params, quote_decimals)
                    line.collateral_value += value
                    covered += value
            out.accounts += 1
            if unpriced or covered < owed:
                out.under += 1
                out.shortfall += max(owed - covered, 0)
        return out
