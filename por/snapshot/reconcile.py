"""Reconciliation: liabilities from the tree against reserves on chain, per asset.

Every number is an `int` in the asset's smallest unit; ratios are exact fractions, shown
as integer parts per million rounded *down* (a report never overstates coverage).

Per asset:
  liabilities      = root equity (what customers are owed)
  debts            = root debt (what customers owe)
  net_liabilities  = liabilities - debts
  reserves         = on-chain balances of the registered wallets at the pinned block/slot
  custody          = what the ledger believes it holds on chain (-@custody)
  custody_gap      = reserves - custody (0 when the books and the chain agree)
  in_flight        = withdrawals requested, not completed: still in custody in the books,
                     possibly already broadcast; a negative gap down to -in_flight is the
                     expected shape of that race (deposits seen but not yet credited are
                     not known to the ledger and would show as a positive gap)
  coverage         = reserves / net_liabilities; PASS iff reserves >= net_liabilities

The snapshot PASSes only when every asset does.

USD view (`UsdView`), at the ledger's index prices P (USD x 10^price_decimals per whole
unit of an asset with d decimals), every rounding against the exchange:

  liabilities_usd = ceil(liabilities x P / 10^d)      (what it owes: up)
  debts_usd       = floor(debts x P / 10^d)           (what it is owed: down)
  reserves_usd    = floor(reserves x P / 10^d)        (what it holds: down)
  net_usd         = liabilities_usd - debts_usd;  surplus_usd = reserves_usd - net_usd

Totals are sums of the rounded per-asset values, over the priced assets (the others are
listed as `assets_without_price`).

Collateral view (`CollateralView`): lenders are safe only while borrowers are
over-collateralised. The ledger values, with its own risk model, the debts and the
collateral of the borrowing accounts (customers with any debt leaf): per asset the debts,
the collateral, the debts' value (rounded up) and the collateral's value after haircuts
(rounded down), plus how many borrowers are individually under-collateralised and by how
much. Verdict PASS when total collateral value >= total debt value and no borrower is
under-collateralised, else WARN (a warning: it does not change the reserves verdict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from por.model import Node

__all__ = [
    "PPM",
    "AssetLine",
    "BorrowerBook",
    "CollateralLine",
    "CollateralView",
    "Reconciliation",
    "UsdLine",
    "UsdView",
    "coverage_ppm",
    "format_signed_units",
    "reconcile",
    "render_collateral_table",
    "render_table",
    "render_usd_table",
    "usd_view",
]

PPM = 1_000_000


def coverage_ppm(reserves: int, net: int) -> int | None:
    """floor(reserves / net * 10^6), or None when there are no net liabilities."""
    if net <= 0:
        return None
    return reserves * PPM // net


def format_signed_units(value: int, decimals: int) -> str:
    """Exact human rendering of a signed amount: -150000000 with 8 decimals -> '-1.5'."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if not decimals or not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def _ppm_text(ppm: int | None) -> str:
    if ppm is None:
        return "n/a"
    whole, frac = divmod(ppm, PPM // 100)  # percent with 4 decimals
    return f"{whole}.{frac:04d}%"


@dataclass(frozen=True, slots=True)
class AssetLine:
    """One asset's row of the report (amounts in its smallest unit)."""

    symbol: str
    decimals: int
    liabilities: int
    debts: int
    reserves: int
    custody: int
    in_flight: int
    system: int  # the exchange's own accounts' claims (fees, insurance, capital, pools)

    @property
    def net_liabilities(self) -> int:
        return self.liabilities - self.debts

    @property
    def custody_gap(self) -> int:
        return self.reserves - self.custody

    @property
    def coverage_ppm(self) -> int | None:
        return coverage_ppm(self.reserves, self.net_liabilities)

    @property
    def passed(self) -> bool:
        return self.reserves >= self.net_liabilities

    def to_dict(self) -> dict[str, Any]:
        net = self.net_liabilities
        return {
            "asset": self.symbol,
            "decimals": self.decimals,
            "liabilities": str(self.liabilities),
            "debts": str(self.debts),
            "net_liabilities": str(net),
            "reserves": str(self.reserves),
            "ledger_custody": str(self.custody),
            "custody_gap": str(self.custody_gap),
            "in_flight_withdrawals": str(self.in_flight),
            "system_accounts": str(self.system),
            "coverage": (
                None if net <= 0 else {"reserves": str(self.reserves), "net_liabilities": str(net)}
            ),
            "coverage_ppm": self.coverage_ppm,
            "status": "PASS" if self.passed else "FAIL",
        }


def _usd(amount: int, price: int, decimals: int, *, round_up: bool) -> int:
    num = amount * price
    den: int = 10**decimals
    return -(-num // den) if round_up else num // den


@dataclass(frozen=True, slots=True)
class UsdLine:
    """One priced asset in USD x 10^price_decimals (roundings in the module docstring)."""

    symbol: str
    price: int
    liabilities: int
    debts: int
    reserves: int

    @property
    def net_liabilities(self) -> int:
        return self.liabilities - self.debts

    @property
    def surplus(self) -> int:
        return self.reserves - self.net_liabilities

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.symbol,
            "price": str(self.price),
            "liabilities_usd": str(self.liabilities),
            "debts_usd": str(self.debts),
            "net_liabilities_usd": str(self.net_liabilities),
            "reserves_usd": str(self.reserves),
            "surplus_usd": str(self.surplus),
        }


@dataclass(frozen=True, slots=True)
class UsdView:
    """Per priced asset and in total, at index prices; `missing` lists unpriced assets."""

    price_decimals: int
    lines: tuple[UsdLine, ...]
    missing: tuple[str, ...]

    @property
    def liabilities(self) -> int:
        return sum(ln.liabilities for ln in self.lines)

    @property
    def debts(self) -> int:
        return sum(ln.debts for ln in self.lines)

    @property
    def net_liabilities(self) -> int:
        return self.liabilities - self.debts

    @property
    def reserves(self) -> int:
        return sum(ln.reserves for ln in self.lines)

    @property
    def surplus(self) -> int:
        return self.reserves - self.net_liabilities

    def to_dict(self) -> dict[str, Any]:
        return {
            "price_decimals": self.price_decimals,
            "rounding": "liabilities up, debts and reserves down (against the exchange)",
            "assets": [ln.to_dict() for ln in self.lines],
            "liabilities_usd": str(self.liabilities),
            "debts_usd": str(self.debts),
            "net_liabilities_usd": str(self.net_liabilities),
            "reserves_usd": str(self.reserves),
            "surplus_usd": str(self.surplus),
            "coverage_ppm": coverage_ppm(self.reserves, self.net_liabilities),
            "assets_without_price": list(self.missing),
        }


def usd_view(lines: Sequence[AssetLine], prices: Mapping[str, int], price_decimals: int) -> UsdView:
    """The USD view of the per-asset lines (see the module docstring for the rounding)."""
    priced = []
    for ln in lines:
        price = prices.get(ln.symbol)
        if price is None:
            continue
        d = ln.decimals
        priced.append(
            UsdLine(
                ln.symbol,
                price,
                _usd(ln.liabilities, price, d, round_up=True),
                _usd(ln.debts, price, d, round_up=False),
                _usd(ln.reserves, price, d, round_up=False),
            )
        )
    missing = tuple(ln.symbol for ln in lines if ln.symbol not in prices)
    return UsdView(price_decimals, tuple(priced), missing)


@dataclass(frozen=True, slots=True)
class CollateralLine:
    """One asset of the borrowers' book: amounts in its smallest unit, values in USD x
    10^price_decimals as the ledger computed them (debt up, collateral after haircut down).
    Without a risk model in the ledger the values are None and `collateral` is the
    borrowers' raw positive claims (from the leaves)."""

    symbol: str
    decimals: int
    debt: int
    collateral: int
    debt_value: int | None
    collateral_value: int | None
    priced: bool

    @property
    def coverage_ppm(self) -> int | None:
        """This asset's collateral value against this asset's debt value (for scale: the
        verdict is on the totals, collateral of one asset backs debts in any other)."""
        if self.debt_value is None or self.collateral_value is None:
            return None
        return coverage_ppm(self.collateral_value, self.debt_value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.symbol,
            "debt": str(self.debt),
            "collateral": str(self.collateral),
            "debt_usd": None if self.debt_value is None else str(self.debt_value),
            "collateral_after_haircut_usd": (
                None if self.collateral_value is None else str(self.collateral_value)
            ),
            "coverage_ppm": self.coverage_ppm,
            "priced": self.priced,
        }


@dataclass(frozen=True, slots=True)
class CollateralView:
    """Customers' debts against the collateral of the borrowing accounts."""

    price_decimals: int
    borrowers: int
    lines: tuple[CollateralLine, ...]
    valued: bool  # the ledger valued debts and collateral with its risk model
    under_collateralised: int = 0
    shortfall: int = 0
    notes: tuple[str, ...] = ()

    @property
    def debt_value(self) -> int | None:
        return sum(ln.debt_value or 0 for ln in self.lines) if self.valued else None

    @property
    def collateral_value(self) -> int | None:
        return sum(ln.collateral_value or 0 for ln in self.lines) if self.valued else None

    @property
    def unpriced_debts(self) -> tuple[str, ...]:
        return tuple(ln.symbol for ln in self.lines if ln.debt and not ln.priced)

    @property
    def status(self) -> str | None:
        """PASS, WARN (under-collateralised, or a debt without price), None (not valued)."""
        debt, collateral = self.debt_value, self.collateral_value
        if debt is None or collateral is None:
            return None
        healthy = collateral >= debt and not self.under_collateralised
        return "PASS" if healthy and not self.unpriced_debts else "WARN"

    def verdict(self) -> str:
        """One human line: the totals, the ratio and PASS/WARN with the reason."""
        debt, collateral, status = self.debt_value, self.collateral_value, self.status
        if debt is None or collateral is None or status is None:
            return (
                f"collateral: {self.borrowers} borrowing accounts; debts cannot be valued "
                "(the ledger provides no prices or risk model)"
            )
        d = self.price_decimals
        text = (
            f"collateral {status}: {self.borrowers} borrowing accounts owe "
            f"{format_signed_units(debt, d)} USD against "
            f"{format_signed_units(collateral, d)} USD of collateral after haircuts "
            f"({_ppm_text(coverage_ppm(collateral, debt))})"
        )
        reasons = []
        if collateral < debt:
            reasons.append("debts exceed the collateral")
        if self.under_collateralised:
            reasons.append(
                f"{self.under_collateralised} borrowing accounts under-collateralised by "
                f"{format_signed_units(self.shortfall, d)} USD in total"
            )
        if self.unpriced_debts:
            reasons.append(f"debts without a price: {', '.join(self.unpriced_debts)}")
        return text + ("" if not reasons else ": " + "; ".join(reasons))

    def to_dict(self) -> dict[str, Any]:
        debt, collateral = self.debt_value, self.collateral_value
        return {
            "price_decimals": self.price_decimals,
            "borrowing_accounts": self.borrowers,
            "assets": [ln.to_dict() for ln in self.lines],
            "debt_usd": None if debt is None else str(debt),
            "collateral_after_haircut_usd": None if collateral is None else str(collateral),
            "coverage_ppm": (
                None if debt is None or collateral is None else coverage_ppm(collateral, debt)
            ),
            "under_collateralised_accounts": self.under_collateralised if self.valued else None,
            "shortfall_usd": str(self.shortfall) if self.valued else None,
            "status": self.status,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class BorrowerBook:
    """What the ledger reports about its borrowers (`LedgerCut.borrower_collateral` and
    `borrower_shortfall`), per asset (debt, collateral, debt_value, collateral_value)."""

    assets: Mapping[str, tuple[int, int, int, int]]
    accounts: int
    under_collateralised: int
    shortfall: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    snapshot_id: str
    lines: tuple[AssetLine, ...]
    usd: UsdView | None
    collateral: CollateralView
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(line.passed for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "por-reconciliation/1",
            "snapshot_id": self.snapshot_id,
            "status": "PASS" if self.passed else "FAIL",
            "assets": [line.to_dict() for line in self.lines],
            "usd": None if self.usd is None else self.usd.to_dict(),
            "collateral": self.collateral.to_dict(),
            "notes": list(self.notes),
        }


def reconcile(
    snapshot_id: str,
    assets: Sequence[tuple[str, int]],
    root: Node,
    reserves: Mapping[str, int],
    custody: Mapping[str, int],
    in_flight: Mapping[str, int],
    system: Mapping[str, int],
    *,
    borrowers: int,
    borrower_collateral: Sequence[int],
    prices: Mapping[str, int] | None,
    price_decimals: int,
    book: BorrowerBook | None,
    notes: Sequence[str] = (),
) -> Reconciliation:
    """The report; pure arithmetic on ints (see the module docstring).

    `borrowers`/`borrower_collateral`: counted from the leaves (accounts with a debt, and
    their positive claims per asset), used when the ledger gives no `book`."""
    lines = tuple(
        AssetLine(
            symbol,
            decimals,
            root.equity[k],
            root.debt[k],
            reserves.get(symbol, 0),
            custody.get(symbol, 0),
            in_flight.get(symbol, 0),
            system.get(symbol, 0),
        )
        for k, (symbol, decimals) in enumerate(assets)
    )
    all_notes = list(notes)
    usd: UsdView | None = None
    if prices is None:
        all_notes.append("USD view absent: the ledger provides no index prices")
    else:
        usd = usd_view(lines, prices, price_decimals)
        if usd.missing:
            all_notes.append(
                f"USD totals leave out assets without an index price: {', '.join(usd.missing)}"
            )
    collateral = _collateral(
        lines, borrowers, borrower_collateral, prices or {}, price_decimals, book
    )
    return Reconciliation(snapshot_id, lines, usd, collateral, tuple(all_notes))


def _collateral(
    lines: Sequence[AssetLine],
    borrowers: int,
    raw: Sequence[int],
    prices: Mapping[str, int],
    price_decimals: int,
    book: BorrowerBook | None,
) -> CollateralView:
    if book is None:
        return CollateralView(
            price_decimals,
            borrowers,
            tuple(
                CollateralLine(
                    ln.symbol, ln.decimals, ln.debts, raw[k], None, None, ln.symbol in prices
                )
                for k, ln in enumerate(lines)
            ),
            valued=False,
            notes=(
                "the ledger provides no risk model: collateral is the borrowers' raw "
                "positive claims, not valued",
            ),
        )
    out = []
    for ln in lines:
        debt, held, debt_value, held_value = book.assets.get(ln.symbol, (0, 0, 0, 0))
        out.append(
            CollateralLine(
                ln.symbol, ln.decimals, debt, held, debt_value, held_value, ln.symbol in prices
            )
        )
    view = CollateralView(
        price_decimals,
        book.accounts,
        tuple(out),
        valued=True,
        under_collateralised=book.under_collateralised,
        shortfall=book.shortfall,
        notes=(
            "collateral is the borrowers' positive balances less funds locked by pending "
            "withdrawals, valued at index with the ledger's haircuts (rounded down); debts "
            "valued at index (rounded up)",
        ),
    )
    return view


def render_table(report: Reconciliation) -> Any:
    """A rich Table of the per-asset lines (human units), titled with the verdict."""
    from rich.table import Table

    verdict = "PASS" if report.passed else "FAIL"
    table = Table(title=f"Snapshot {report.snapshot_id}: {verdict}")
    for name in (
        "asset",
        "liabilities",
        "debts",
        "net liabilities",
        "reserves",
        "ledger custody",
        "reserves - custody",
        "in-flight withdrawals",
        "coverage",
        "status",
    ):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for ln in report.lines:
        d = ln.decimals
        table.add_row(
            ln.symbol,
            format_signed_units(ln.liabilities, d),
            format_signed_units(ln.debts, d),
            format_signed_units(ln.net_liabilities, d),
            format_signed_units(ln.reserves, d),
            format_signed_units(ln.custody, d),
            format_signed_units(ln.custody_gap, d),
            format_signed_units(ln.in_flight, d),
            _ppm_text(ln.coverage_ppm),
            "PASS" if ln.passed else "FAIL",
        )
    return table


def render_usd_table(report: Reconciliation) -> Any:
    """A rich Table of the USD view (None when the ledger gave no prices)."""
    from rich.table import Table

    usd = report.usd
    if usd is None:
        return None
    d = usd.price_decimals
    table = Table(title="USD at index prices (liabilities rounded up, reserves down)")
    for name in ("asset", "price", "liabilities", "debts", "net", "reserves", "surplus"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for ln in usd.lines:
        table.add_row(
            ln.symbol,
            format_signed_units(ln.price, d),
            *(
                format_signed_units(v, d)
                for v in (ln.liabilities, ln.debts, ln.net_liabilities, ln.reserves, ln.surplus)
            ),
        )
    table.add_row(
        "total",
        "",
        *(
            format_signed_units(v, d)
            for v in (usd.liabilities, usd.debts, usd.net_liabilities, usd.reserves, usd.surplus)
        ),
    )
    return table


def render_collateral_table(report: Reconciliation) -> Any:
    """A rich Table of the borrowers' debts and collateral per asset (values in USD)."""
    from rich.table import Table

    view = report.collateral
    d = view.price_decimals
    table = Table(title=f"Collateral of the {view.borrowers} borrowing accounts")
    for name in ("asset", "debt", "debt USD", "collateral", "after haircut USD", "ratio"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for ln in view.lines:
        table.add_row(
            ln.symbol,
            format_signed_units(ln.debt, ln.decimals),
            "n/a" if ln.debt_value is None else format_signed_units(ln.debt_value, d),
            format_signed_units(ln.collateral, ln.decimals),
            "n/a" if ln.collateral_value is None else format_signed_units(ln.collateral_value, d),
            _ppm_text(ln.coverage_ppm),
        )
    debt, held = view.debt_value, view.collateral_value
    if debt is not None and held is not None:
        table.add_row(
            "total",
            "",
            format_signed_units(debt, d),
            "",
            format_signed_units(held, d),
            _ppm_text(coverage_ppm(held, debt)),
        )
    return table
