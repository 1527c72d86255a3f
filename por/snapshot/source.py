"""The one narrow interface through which a snapshot reads a ledger.

`por/` never imports an exchange. Any exchange feeds the toolkit by implementing these two
protocols over its own database (this repository's `exchange.export` is one); they speak
only builtin types (str, int, tuples, dicts, iterators), so an implementation needs no
import of `por` and matches structurally.

A `LedgerSource` opens a *cut*: the ledger state at the last journal sequence whose time
is strictly before the snapshot boundary. Every query of the returned `LedgerCut` answers
for that one state, however many events the exchange writes meanwhile (trading goes on).

A cut may also offer `changes_since` (`IncrementalLedgerCut`): what changed since an
earlier cut, read by account, so that a snapshot that kept the earlier cut's claims reads
only what changed (`por.snapshot.cut_claims`). It is optional: without it, or when it
answers None, the snapshot reads the whole cut.

Sign convention (as in docs/ledger.md): a positive amount is what the exchange owes the
account. An account's *claim* in an asset is the sum of all its buckets in that asset
(available, locked by orders or withdrawals, lent with interest, unsettled PnL, minus
borrowed with interest): `equity = max(claim, 0)`, `debt = max(-claim, 0)`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

__all__ = ["IncrementalLedgerCut", "LedgerChanges", "LedgerCut", "LedgerSource"]


@runtime_checkable
class LedgerCut(Protocol):
    """The ledger at one journal sequence; read-only, valid inside the `cut(...)` block.

    Fields: `seq` is the last journal sequence included (0: nothing), `time_ms` its ledger
    time in ms since the epoch (None if it precedes the first clock), `custody_account`
    the ledger's name of its custody account (the counterpart of what is held on chain,
    among `system_balances`; not a liability of the exchange).
    """

    seq: int
    time_ms: int | None
    custody_account: str

    def assets(self) -> Sequence[tuple[str, int]]:
        """(symbol, decimals) of every asset that exists at the cut."""
        ...

    def claims(self) -> Iterator[tuple[str, Sequence[int]]]:
        """(account, claims) of every customer account, `claims[i]` in asset `assets()[i]`.

        Customer accounts only (never a system account); any order; each account at most
        once; accounts whose claims are all zero may be left out. Streamed: a million
        accounts never sit in memory twice.
        """
        ...

    def customer_totals(self) -> Mapping[str, tuple[int, int]]:
        """asset -> (sum of positive claims, sum of negated negative claims), computed by
        the ledger itself. The snapshot checks its tree root against these, to the unit."""
        ...

    def system_balances(self) -> Mapping[tuple[str, str], int]:
        """(system account, asset) -> the sum of its buckets (any sign), non-zero only.

        Includes the custody account (whose balance is minus what is held on chain)."""
        ...

    def custody(self) -> Mapping[str, int]:
        """asset -> what the ledger says the exchange holds on chain (>= 0)."""
        ...

    def in_flight(self) -> Mapping[str, int]:
        """asset -> withdrawals requested and not yet completed (funds still in custody,
        already reserved for leaving): the ledger's explanation of an on-chain shortfall."""
        ...

    def price_decimals(self) -> int:
        """The scale of `index_prices()` and of every value `borrower_collateral()` and
        `borrower_shortfall()` report: USD x 10^price_decimals (e.g. 6 when the ledger
        quotes prices in micro-USDC, as this repository's exchange does)."""
        ...

    def index_prices(self) -> Mapping[str, int] | None:
        """asset -> the ledger's index price at the cut: USD value of ONE WHOLE unit, in
        units of 10^-price_decimals USD (so `amount` smallest units are worth
        `amount * price / 10^decimals`). Assets without a price are absent; None when the
        ledger keeps no prices at all."""
        ...

    def borrower_collateral(self) -> Mapping[str, tuple[int, int, int, int]] | None:
        """asset -> (debt, collateral, debt_value, collateral_value) summed over the
        borrowing accounts (customers with a negative claim in any asset), as the ledger's
        own risk model values them at the cut:

        debt (smallest units): their debts in the asset -- all customers' debts;
        collateral (smallest units): their positive balances usable as collateral;
        debt_value: the debts' value, rounded up (0 for an asset without a price);
        collateral_value: the collateral's value after haircuts, rounded down.

        Values in USD x 10^price_decimals. None when the ledger has no risk model."""
        ...

    def borrower_shortfall(self) -> tuple[int, int, int] | None:
        """(borrowing accounts, how many of them have a collateral value after haircuts
        below their debts' value -- or owe an asset without a price --, the sum of those
        shortfalls in USD x 10^price_decimals); None when the ledger has no risk model."""
        ...


@runtime_checkable
class LedgerChanges(Protocol):
    """What changed in the ledger between an earlier cut (at sequence `since`) and this one,
    as `IncrementalLedgerCut.changes_since` answers it. Read-only, valid inside the cut.

    The customer claims come as a change (the accounts that changed, with their claims at
    both cuts), and so do the two totals the snapshot chains from the earlier cut; the
    other answers are complete at this cut, as the `LedgerCut` methods of the same name.

    Fields: `since` is the earlier cut's sequence, `since_time_ms` the ledger time of the
    event at that sequence (None before the first clock, or for sequence 0), which the
    caller compares with the earlier cut's `time_ms` it kept (the same ledger, the same cut).
    """

    since: int
    since_time_ms: int | None

    def claims(self) -> Iterator[tuple[str, Sequence[int] | None, Sequence[int]]]:
        """(account, claims at `since`, claims at this cut) of every customer account that
        had a posting, or was opened, in (since, cut seq]; the claims at `since` are None
        when the account did not exist then. Vectors in `assets()` order; each account
        once; any order; customer accounts only."""
        ...

    def totals_change(self) -> Mapping[str, tuple[int, int]]:
        """asset -> the change of `customer_totals()` from `since` to this cut (two signed
        ints: positive claims' sum, debts' sum), computed by the ledger."""
        ...

    def in_flight_change(self) -> Mapping[str, int]:
        """asset -> the change of `in_flight()` from `since` to this cut (signed)."""
        ...

    def system_balances(self) -> Mapping[tuple[str, str], int]:
        """As `LedgerCut.system_balances`, complete at this cut."""
        ...

    def custody(self) -> Mapping[str, int]:
        """As `LedgerCut.custody`, at this cut."""
        ...

    def borrower_collateral(self) -> Mapping[str, tuple[int, int, int, int]] | None:
        """As `LedgerCut.borrower_collateral`, over every borrowing account at this cut."""
        ...

    def borrower_shortfall(self) -> tuple[int, int, int] | None:
        """As `LedgerCut.borrower_shortfall`, at this cut."""
        ...


@runtime_checkable
class IncrementalLedgerCut(LedgerCut, Protocol):
    """A cut that can also say what changed since an earlier cut of the same ledger."""

    def changes_since(self, seq: int, watch: Collection[str]) -> LedgerChanges | None:
        """The changes between the cut at `seq` (earlier, or this one) and this cut.

        `watch`: accounts the caller knew at `seq` as borrowers (a debt in any asset) or
        as system accounts with a balance; with the accounts that changed they are all the
        accounts the complete answers (system balances, borrowers) can involve, so the
        ledger reads no other. None: not supported here (read the whole cut instead).
        """
        ...


@runtime_checkable
class LedgerSource(Protocol):
    """Opens consistent, read-only cuts of a ledger without stopping it."""

    def cut(self, boundary_ms: int) -> AbstractContextManager[LedgerCut]:
        """The cut for snapshot time `boundary_ms` (events with time < boundary).

        Must raise (any exception with a clear message) when the cut is not final yet:
        the ledger clock has not reached the boundary, so events before it may still come.
        """
        ...
