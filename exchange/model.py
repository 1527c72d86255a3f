"""Plain values of the ledger: assets, accounts, buckets, postings and journal events.

Leaf of the package graph: imports nothing of ours. Every engine (core commands,
matching, lending, settlement, liquidation) speaks in these values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

__all__ = [
    "AMOUNT_LIMIT",
    "ANY",
    "BACKSTOP",
    "CORE_BUCKETS",
    "CUSTODY",
    "FEES",
    "INSURANCE",
    "NEGATIVE",
    "POSITIVE",
    "SYSTEM_PREFIX",
    "SYSTEM_ACCOUNTS",
    "Asset",
    "Event",
    "Posting",
    "format_time",
    "is_system_account",
    "lending_pool",
    "parse_time",
    "to_human",
]

AMOUNT_LIMIT = 1 << 128
"""Every amount and every balance is strictly inside (-2^128, 2^128), as in proof-format.md."""

# Account names. User ids never start with "@"; system accounts always do.
SYSTEM_PREFIX = "@"
CUSTODY = "@custody"  # counterpart of what the exchange holds on chain (bucket "onchain")
FEES = "@fees"  # trading and withdrawal fees earned by the exchange
INSURANCE = "@insurance"  # insurance fund: absorbs liquidation shortfalls first
BACKSTOP = "@backstop"  # the exchange's own capital: absorbs what insurance cannot
SYSTEM_ACCOUNTS = (CUSTODY, FEES, INSURANCE, BACKSTOP)


def lending_pool(asset: str) -> str:
    """Name of the lending pool account of `asset` (one pool per asset, opened with the asset)."""
    return f"@lending:{asset}"


def is_system_account(account: str) -> bool:
    return account.startswith(SYSTEM_PREFIX)


# Allowed sign of a bucket's balance.
POSITIVE = "+"  # balance >= 0
NEGATIVE = "-"  # balance <= 0
ANY = "+-"  # any sign (e.g. unsettled PnL, the backstop's capital)

CORE_BUCKETS: dict[str, str] = {
    "available": POSITIVE,  # free to trade, transfer or withdraw
    "locked_order": POSITIVE,  # reserved by resting orders
    "locked_withdrawal": POSITIVE,  # reserved by a requested withdrawal until complete/cancel
    "lent": POSITIVE,  # supplied to a lending pool, with accrued interest
    "borrowed": NEGATIVE,  # recorded debt: what the account owes, with accrued interest
    "pnl_unsettled": ANY,  # perp PnL not yet settled into `available`
    "margin": POSITIVE,  # collateral posted to open positions
    "onchain": NEGATIVE,  # @custody only: minus what the exchange holds on chain
    "liquidity": POSITIVE,  # lending pools: supplied and not lent out
    "capital": ANY,  # @backstop: the exchange's own capital
}
"""Buckets every module may post to, with their allowed sign. Modules may register more."""


@dataclass(frozen=True, slots=True)
class Asset:
    """An asset and its scale: amounts are ints in units of 10^-decimals."""

    symbol: str
    decimals: int


Posting = tuple[int, str, str, str, int]
"""(entry, account, asset, bucket, amount). Postings of one entry sum to zero per asset."""


class Event(NamedTuple):
    """One journal row: a command (accepted or rejected) or a periodic job run.

    `seq` is gapless from 1. `ts` is the ledger time (ms since the epoch) or None before
    the first clock. `command` is the command's JSON text as received (replayable);
    `data` holds facts the handler recorded with `ctx.emit` (what replay hooks read).
    Rejected events have a `reason` code and no postings. (A NamedTuple: immutable and
    cheap to create on the hot path.)
    """

    seq: int
    ts: int | None
    kind: str  # "command" | "job"
    cmd: str
    status: str  # "accepted" | "rejected"
    reason: str | None
    detail: str | None
    command: str
    data: dict[str, Any] | None
    postings: tuple[Posting, ...]

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")


def parse_time(text: str) -> int:
    """`2026-11-24T16:00:00Z` (optionally with up to 3 fraction digits) -> ms since epoch."""
    if not _TIME_RE.fullmatch(text):
        raise ValueError(f"time must look like 2026-11-24T16:00:00Z, got {text!r}")
    dt = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return (int(dt.timestamp()) * 1000) + dt.microsecond // 1000


def format_time(ms: int | None) -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    return f"{base}.{frac:03d}Z" if frac else f"{base}Z"


def to_human(amount: int, decimals: int) -> str:
    """Exact decimal rendering of an integer amount: 150000000 with 8 decimals -> '1.5'."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals) if decimals else (abs(amount), 0)
    if not decimals or not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"
