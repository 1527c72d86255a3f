"""The SQL journal: writes batches of events in one transaction, reads them back in order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import DBAPIError

try:
    from psycopg import Error as DriverError
except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite works without it

    class DriverError(Exception):  # type: ignore[no-redef]
        pass


from exchange import schema
from exchange.claims import HELD_BUCKET, opened_account
from exchange.errors import StoreError
from exchange.model import Asset, Event, Posting
from exchange.state import BalanceKey, LedgerState

__all__ = ["SqlJournal"]

_READ_CHUNK = 10_000


def _data_encoder() -> Callable[[Any], str]:
    """`json.dumps(data, sort_keys=True)` (the same text) without building an encoder per
    event: CPython's C encoder made once (no circular-reference check: event data are
    JSON facts a handler emitted, a cycle would already fail elsewhere)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(sort_keys=True).encode
    chunks = make(
        None,  # markers: no circular check
        json.JSONEncoder().default,  # the same TypeError for a non-JSON value
        json.encoder.encode_basestring_ascii,  # ensure_ascii=True, as json.dumps
        None,  # indent
        ": ",
        ", ",
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    join = "".join
    return lambda data: join(chunks(data, 0))


_encode_data = _data_encoder()


class SqlJournal:
    """Journal on SQLAlchemy Core. `write` = one transaction (group commit).

    The hot path hands rows straight to the driver: `executemany` on SQLite, `COPY` on
    PostgreSQL (both inside the SQLAlchemy transaction), so a batch costs one round of
    bulk inserts instead of one compiled statement per row.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        mark = "%s" if self.postgres else "?"
        # the touched balances: on PostgreSQL one set-based statement over four arrays
        # (one round trip, instead of a pipelined statement per row)
        values = (
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::numeric[])"
            if self.postgres
            else "VALUES (?, ?, ?, ?)"
        )
        self._upsert = (
            f"INSERT INTO balances (account, asset, bucket, amount) {values} "
            "ON CONFLICT (account, asset, bucket) DO UPDATE SET amount = excluded.amount"
        )
        marks = ", ".join([mark] * 9)
        self._insert_events = (
            "INSERT INTO events (seq, ts, kind, cmd, status, reason, detail, command, data) "
            f"VALUES ({marks})"
        )
        marks = ", ".join([mark] * 7)
        self._insert_postings = (
            "INSERT INTO postings (seq, idx, entry, account, asset, bucket, amount) "
            f"VALUES ({marks})"
        )
        # claims: a batch's sums per (account, asset) added to the rows. PostgreSQL sums
        # the batch's postings itself, just written (a primary-key range; exact NUMERIC;
        # no client work); SQLite gets the sums from Python (its decimal text is added by a
        # Python function). A pair whose postings net to zero only makes sure its row exists.
        if self.postgres:
            self._add_claims = (
                "INSERT INTO claims (account, asset, amount, held, first_seq) "
                "SELECT account, asset, sum(amount), "
                f"coalesce(sum(amount) FILTER (WHERE bucket = '{HELD_BUCKET}'), 0), min(seq) "
                "FROM postings WHERE seq >= %s AND seq <= %s GROUP BY account, asset "
                "ON CONFLICT (account, asset) DO UPDATE SET "
                "amount = claims.amount + excluded.amount, held = claims.held + excluded.held "
                "WHERE excluded.amount <> 0 OR excluded.held <> 0"
            )
        else:
            self._add_claims = (
                "INSERT INTO claims (account, asset, amount, held, first_seq) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, asset) DO UPDATE SET "
                "amount = claim_add(claims.amount, excluded.amount), "
                "held = CASE excluded.held WHEN '0' THEN claims.held "
                "ELSE claim_add(claims.held, excluded.held) END"
            )
        self._touch_claims = (
            "INSERT INTO claims (account, asset, amount, held, first_seq) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, asset) DO NOTHING"
        )
        self._open_accounts = (
            f"INSERT INTO opened_accounts (account, seq) VALUES ({mark}, {mark}) "
            "ON CONFLICT (account) DO NOTHING"
        )

    # -- writing -----------------------------------------------------------------------
    def write(self, events: list[Event], state: LedgerState) -> None:
        encode = _encode_data
        amount_out = int if self.postgres else str
        event_rows: list[tuple[Any, ...]] = []
        add_event_row = event_rows.append
        # the postings of the batch as columns: rows are zipped in C, not built per posting
        seq_column: list[int] = []
        idx_column: list[int] = []
        all_postings: list[Posting] = []
        new_assets: list[dict[str, Any]] = []
        openings: list[tuple[str, int]] = []
        for ev in events:
            seq, ts, kind, cmd, status, reason, detail, command, data, postings = ev
            add_event_row(
                (
                    seq, ts, kind, cmd, status, reason, detail, command,
                    None if data is None else encode(data),
                )
            )  # fmt: skip
            if postings:
                n = len(postings)
                seq_column.extend(repeat(seq, n))
                idx_column.extend(range(n))
                all_postings.extend(postings)
            if status == "accepted":
                if cmd == "asset" and kind == "command":
                    symbol = json.loads(command)["symbol"]
                    new_assets.append({"symbol": symbol, "decimals": state.assets[symbol].decimals})
                elif cmd == "account":
                    account = opened_account(command)
                    if account is not None:
                        openings.append((account, seq))
        posting_rows: list[tuple[Any, ...]] = []
        claim_rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        touched: set[BalanceKey] = set()
        if all_postings:
            entries, accounts, assets, buckets, amounts = zip(*all_postings, strict=True)
            posting_rows = list(
                zip(
                    seq_column,
                    idx_column,
                    entries,
                    accounts,
                    assets,
                    buckets,
                    map(amount_out, amounts),
                    strict=True,
                )
            )
            touched = set(zip(accounts, assets, buckets, strict=True))
            if not self.postgres:  # (PostgreSQL sums the batch's postings itself)
                claim_rows = _claim_rows(seq_column, accounts, assets, buckets, amounts)
        balances = state.balances
        balance_rows = [(k[0], k[1], k[2], amount_out(balances.get(k, 0))) for k in sorted(touched)]
        try:
            self._write(
                events[-1], event_rows, posting_rows, new_assets, balance_rows, claim_rows, openings
            )
        except (DBAPIError, DriverError) as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreError(
                f"journal write of seq {events[0].seq}..{events[-1].seq} failed, "
                f"nothing of it committed: {detail}"
            ) from exc

    def _write(
        self,
        last: Event,
        event_rows: list[tuple[Any, ...]],
        posting_rows: list[tuple[Any, ...]],
        new_assets: list[dict[str, Any]],
        balance_rows: list[tuple[Any, ...]],
        claim_rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]],
        openings: list[tuple[str, int]],
    ) -> None:
        with self.engine.begin() as conn:
            if not self.postgres:
                raw_sqlite = conn.connection.driver_connection
                assert raw_sqlite is not None
                raw_sqlite.create_function("claim_add", 2, _decimal_add, deterministic=True)
            if self.postgres:
                raw = conn.connection.driver_connection
                assert raw is not None
                with raw.cursor() as cur:
                    with cur.copy(
                        "COPY events (seq, ts, kind, cmd, status, reason, detail, command, data) "
                        "FROM STDIN"
                    ) as copy:
                        for row in event_rows:
                            copy.write_row(row)
                    if posting_rows:
                        with cur.copy(
                            "COPY postings (seq, idx, entry, account, asset, bucket, amount) "
                            "FROM STDIN"
                        ) as copy:
                            for row in posting_rows:
                                copy.write_row(row)
            else:
                conn.exec_driver_sql(self._insert_events, event_rows)
                if posting_rows:
                    conn.exec_driver_sql(self._insert_postings, posting_rows)
            if new_assets:
                conn.execute(schema.assets.insert(), new_assets)
            if balance_rows and self.postgres:
                conn.exec_driver_sql(
                    self._upsert, tuple(map(list, zip(*balance_rows, strict=True)))
                )
            elif balance_rows:
                conn.exec_driver_sql(self._upsert, balance_rows)
            if self.postgres and posting_rows:
                conn.exec_driver_sql(self._add_claims, (posting_rows[0][0], last.seq))
            changed, unchanged = claim_rows
            if changed:
                conn.exec_driver_sql(self._add_claims, changed)
            if unchanged:
                conn.exec_driver_sql(self._touch_claims, unchanged)
            if openings:
                conn.exec_driver_sql(self._open_accounts, openings)
            conn.execute(
                update(schema.head)
                .where(schema.head.c.id == 1)
                .values(seq=last.seq, ts=last.ts, claims_seq=last.seq)
            )

    # -- reading -----------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Every event with its postings, in seq order."""
        with self.engine.connect() as conn:
            yield from _read_events(conn)

    def head(self) -> tuple[int, int | None]:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.head.c.seq, schema.head.c.ts)).one()
        return int(row.seq), row.ts

    def assets(self) -> dict[str, Asset]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.assets)).all()
        return {r.symbol: Asset(r.symbol, r.decimals) for r in rows}

    def balances(self, account: str | None = None) -> dict[BalanceKey, int]:
        q = select(schema.balances)
        if account is not None:
            q = q.where(schema.balances.c.account == account)
        with self.engine.connect() as conn:
            return {(r.account, r.asset, r.bucket): r.amount for r in conn.execute(q)}

    def count(self) -> tuple[int, int | None, int | None]:
        """(number of events, min seq, max seq)."""
        e = schema.events.c
        with self.engine.connect() as conn:
            n, lo, hi = conn.execute(select(func.count(), func.min(e.seq), func.max(e.seq))).one()
        return int(n), lo, hi

    def account_events(self, account: str, limit: int) -> list[Event]:
        """The last `limit` events that posted to `account`, oldest first."""
        p = schema.postings.c
        e = schema.events
        with self.engine.connect() as conn:
            seqs = [
                r[0]
                for r in conn.execute(
                    select(p.seq)
                    .where(p.account == account)
                    .distinct()
                    .order_by(p.seq.desc())
                    .limit(limit)
                )
            ]
            if not seqs:
                return []
            rows = conn.execute(select(e).where(e.c.seq.in_(seqs)).order_by(e.c.seq)).all()
            by_seq: dict[int, list[Posting]] = {}
            for r in conn.execute(
                select(p.seq, p.entry, p.account, p.asset, p.bucket, p.amount)
                .where(p.seq.in_(seqs))
                .order_by(p.seq, p.idx)
            ):
                by_seq.setdefault(r[0], []).append((r[1], r[2], r[3], r[4], r[5]))
        return [_event(r, by_seq) for r in rows]


def _claim_rows(
    seqs: list[int],
    accounts: tuple[str, ...],
    assets: tuple[str, ...],
    buckets: tuple[str, ...],
    amounts: tuple[int, ...],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A batch's postings as SQLite `claims` rows: (account, asset, amount, held, first
    seq) of each pair whose sums changed, and the pairs whose postings net to zero (an
    order's lock: available -> locked_order), which only make sure the row exists."""
    keys = list(zip(accounts, assets))  # noqa: B905 - columns of one zip
    firsts = dict(zip(reversed(keys), reversed(seqs)))  # noqa: B905 - the earliest wins
    sums: dict[tuple[str, str], int] = {}
    get = sums.get
    for key, amount in zip(keys, amounts):  # noqa: B905
        sums[key] = get(key, 0) + amount
    held: dict[tuple[str, str], int] = {}
    if HELD_BUCKET in buckets:
        for key, bucket, amount in zip(keys, buckets, amounts):  # noqa: B905
            if bucket == HELD_BUCKET:
                held[key] = held.get(key, 0) + amount
    changed: list[tuple[Any, ...]] = []
    unchanged: list[tuple[Any, ...]] = []
    for key, amount in sums.items():
        hold = held.get(key, 0)
        if amount or hold:
            changed.append((key[0], key[1], str(amount), str(hold), firsts[key]))
        else:
            unchanged.append((key[0], key[1], "0", "0", firsts[key]))
    return changed, unchanged


def _decimal_add(a: str, b: str) -> str:
    """SQLite's `claim_add`: the exact sum of two decimal-text amounts."""
    return str(int(a) + int(b))


def _read_events(conn: Connection, start: int = 1) -> Iterator[Event]:
    e = schema.events
    p = schema.postings
    last = start - 1
    while True:
        rows = conn.execute(
            select(e).where(e.c.seq > last).order_by(e.c.seq).limit(_READ_CHUNK)
        ).all()
        if not rows:
            return
        lo, hi = rows[0].seq, rows[-1].seq
        by_seq: dict[int, list[Posting]] = {}
        for r in conn.execute(
            select(p.c.seq, p.c.entry, p.c.account, p.c.asset, p.c.bucket, p.c.amount)
            .where(p.c.seq >= lo, p.c.seq <= hi)
            .order_by(p.c.seq, p.c.idx)
        ):
            by_seq.setdefault(r[0], []).append((r[1], r[2], r[3], r[4], r[5]))
        for r in rows:
            yield _event(r, by_seq)
        last = hi


def _event(r: Any, by_seq: dict[int, list[Posting]]) -> Event:
    return Event(
        r.seq,
        r.ts,
        r.kind,
        r.cmd,
        r.status,
        r.reason,
        r.detail,
        r.command,
        None if r.data is None else json.loads(r.data),
        tuple(by_seq.get(r.seq, ())),
    )
