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

The snapshot PASSes only when every asset does. The USD view (index prices, USD scaled by
10^8 per whole unit) values reserves rounding down and liabilities rounding up. The
collateral view compares customers' debts with the collateral of the borrowing accounts
(their positive claims), after haircuts when the ledger provides them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from por.model import Node

__all__ = [
    "PPM",
    "PRICE_DECIMALS",
    "AssetLine",
    "CollateralView",
    "Reconciliation",
    "UsdView",
    "coverage_ppm",
    "format_signed_units",
    "reconcile",
    "render_table",
]

PPM = 1_000_000
PRICE_DECIMALS = 8  # index prices: USD per whole unit, times 10^8
_USD_SCALE = 10**PRICE_DECIMALS


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


@dataclass(frozen=True, slots=True)
class UsdView:
    """Totals in USD * 10^8 at index prices; `missing` lists assets without a price."""

    reserves: int
    net_liabilities: int
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "price_decimals": PRICE_DECIMALS,
            "reserves_usd": str(self.reserves),
            "net_liabilities_usd": str(self.net_liabilities),
            "coverage_ppm": coverage_ppm(self.reserves, self.net_liabilities),
            "assets_without_price": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class CollateralView:
    """Customers' debts against the collateral of borrowing accounts (per asset, raw and
    after haircuts), and in USD when prices exist."""

    borrowers: int
    debts: Mapping[str, int]
    collateral: Mapping[str, int]
    collateral_after_haircuts: Mapping[str, int] | None
    debt_usd: int | None
    collateral_usd: int | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        after = self.collateral_after_haircuts
        return {
            "borrowing_accounts": self.borrowers,
            "debts": {k: str(v) for k, v in self.debts.items()},
            "collateral_raw": {k: str(v) for k, v in self.collateral.items()},
            "collateral_after_haircuts": (
                None if after is None else {k: str(v) for k, v in after.items()}
            ),
            "debt_usd": None if self.debt_usd is None else str(self.debt_usd),
            "collateral_usd": None if self.collateral_usd is None else str(self.collateral_usd),
            "over_collateralised": (
                None
                if self.debt_usd is None or self.collateral_usd is None
                else self.collateral_usd >= self.debt_usd
            ),
            "notes": list(self.notes),
        }


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


def _usd(amount: int, price: int, decimals: int, *, round_up: bool) -> int:
    num = amount * price
    den: int = 10**decimals
    return -(-num // den) if round_up else num // den


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
    haircuts_ppm: Mapping[str, int] | None,
    notes: Sequence[str] = (),
) -> Reconciliation:
    """The report; pure arithmetic on ints (see the module docstring)."""
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
        missing = tuple(line.symbol for line in lines if line.symbol not in prices)
        res = sum(
            _usd(ln.reserves, prices[ln.symbol], ln.decimals, round_up=False)
            for ln in lines
            if ln.symbol in prices
        )
        net = sum(
            _usd(ln.net_liabilities, prices[ln.symbol], ln.decimals, round_up=True)
            for ln in lines
            if ln.symbol in prices
        )
        usd = UsdView(res, net, missing)
    collateral = _collateral(lines, borrowers, borrower_collateral, prices, haircuts_ppm)
    return Reconciliation(snapshot_id, lines, usd, collateral, tuple(all_notes))


def _collateral(
    lines: Sequence[AssetLine],
    borrowers: int,
    raw: Sequence[int],
    prices: Mapping[str, int] | None,
    haircuts_ppm: Mapping[str, int] | None,
) -> CollateralView:
    notes: list[str] = []
    debts = {ln.symbol: ln.debts for ln in lines}
    collateral = {ln.symbol: raw[k] for k, ln in enumerate(lines)}
    after: dict[str, int] | None = None
    if haircuts_ppm is None:
        notes.append(
            "no haircuts: the ledger has no margin/haircut configuration, collateral is raw"
        )
    else:
        after = {}
        for symbol, amount in collateral.items():
            cut = haircuts_ppm.get(symbol, PPM)  # unknown haircut: worthless as collateral
            after[symbol] = amount * (PPM - min(max(cut, 0), PPM)) // PPM
    debt_usd = collateral_usd = None
    if prices is None:
        notes.append("debts and collateral are in different assets; without prices no total")
    else:
        valued = after if after is not None else collateral
        decimals = {ln.symbol: ln.decimals for ln in lines}
        debt_usd = sum(
            _usd(v, prices[s], decimals[s], round_up=True) for s, v in debts.items() if s in prices
        )
        collateral_usd = sum(
            _usd(v, prices[s], decimals[s], round_up=False)
            for s, v in valued.items()
            if s in prices
        )
        if any(debts[s] and s not in prices for s in debts):
            notes.append("a debt asset has no price: the USD debt total is incomplete")
    return CollateralView(
        borrowers, debts, collateral, after, debt_usd, collateral_usd, tuple(notes)
    )


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
