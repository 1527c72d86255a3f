"""The SQL journal: writes batches of events in one transaction, reads them back in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from exchange import schema
from exchange.model import Asset, Event, Posting
from exchange.state import BalanceKey, LedgerState

__all__ = ["SqlJournal"]

_READ_CHUNK = 10_000


class SqlJournal:
    """Journal on SQLAlchemy Core. `write` = one transaction (group commit)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
        stmt = dialect.insert(schema.balances)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["account", "asset", "bucket"], set_={"amount": stmt.excluded.amount}
        )

    # -- writing -----------------------------------------------------------------------
    def write(self, events: list[Event], state: LedgerState) -> None:
        event_rows: list[dict[str, Any]] = []
        posting_rows: list[dict[str, Any]] = []
        touched: set[BalanceKey] = set()
        new_assets: list[dict[str, Any]] = []
        for ev in events:
            event_rows.append(
                {
                    "seq": ev.seq,
                    "ts": ev.ts,
                    "kind": ev.kind,
                    "cmd": ev.cmd,
                    "status": ev.status,
                    "reason": ev.reason,
                    "detail": ev.detail,
                    "command": ev.command,
                    "data": None if ev.data is None else json.dumps(ev.data, sort_keys=True),
                }
            )
            seq = ev.seq
            for idx, (entry, account, asset, bucket, amount) in enumerate(ev.postings):
                posting_rows.append(
                    {
                        "seq": seq,
                        "idx": idx,
                        "entry": entry,
                        "account": account,
                        "asset": asset,
                        "bucket": bucket,
                        "amount": amount,
                    }
                )
                touched.add((account, asset, bucket))
            if ev.cmd == "asset" and ev.status == "accepted" and ev.kind == "command":
                symbol = json.loads(ev.command)["symbol"]
                new_assets.append({"symbol": symbol, "decimals": state.assets[symbol].decimals})
        balances = state.balances
        balance_rows = [
            {"account": k[0], "asset": k[1], "bucket": k[2], "amount": balances[k]}
            for k in sorted(touched)
        ]
        last = events[-1]
        with self.engine.begin() as conn:
            conn.execute(schema.events.insert(), event_rows)
            if posting_rows:
                conn.execute(schema.postings.insert(), posting_rows)
            if new_assets:
                conn.execute(schema.assets.insert(), new_assets)
            if balance_rows:
                conn.execute(self._upsert, balance_rows)
            conn.execute(
                update(schema.head).where(schema.head.c.id == 1).values(seq=last.seq, ts=last.ts)
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
            return list(_read_events(conn, min(seqs), set(seqs)))


def _read_events(conn: Connection, start: int = 1, only: set[int] | None = None) -> Iterator[Event]:
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
            if only is not None and r.seq not in only:
                continue
            yield Event(
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
        last = hi
