"""Recompute every figure of a bundle's `reconciliation.json`; trust none of them.

The report (`por-reconciliation/1`, written by `por.snapshot.reconcile`) mixes two kinds
of numbers. Derived figures are recomputed here from the signed root (liabilities,
debts), reserves.json's checked totals (reserves) and the report's own stated inputs,
and must be equal, each named when it is not:

    per asset   liabilities, debts, net, reserves, custody gap, coverage {reserves, net},
                coverage_ppm, status
    usd         per priced asset: liabilities (rounded up), debts and reserves (down), net,
                surplus; the totals, coverage_ppm and the list of unpriced assets
    collateral  per asset: debt (the root's), coverage_ppm, priced; the totals, coverage_ppm
                and the PASS/WARN status
    overall     status, and the manifest's signed `reconciliation`

Stated inputs that no public file can confirm are only checked for form: the ledger's
custody, in-flight withdrawals and system balances, index prices and their decimals (at
most 36, one scale for the USD and collateral views), the borrowers' collateral and its
valuation, the count of borrowing and under-collateralised accounts and their shortfall,
notes. Every object must have exactly its known fields, so
no figure can ride along unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from por.manifest import Manifest

__all__ = ["ReconciliationMismatch", "recompute"]

PPM = 1_000_000
_DIGITS_MAX = 78  # below 2^256; int() of thousands of digits is refused anyway
_PRICE_DECIMALS_MAX = 36

_TOP = {"format", "snapshot_id", "status", "assets", "usd", "collateral", "notes"}
_LINE = {
    "asset",
    "decimals",
    "liabilities",
    "debts",
    "net_liabilities",
    "reserves",
    "ledger_custody",
    "custody_gap",
    "in_flight_withdrawals",
    "system_accounts",
    "coverage",
    "coverage_ppm",
    "status",
}
_USD = {
    "price_decimals",
    "rounding",
    "assets",
    "liabilities_usd",
    "debts_usd",
    "net_liabilities_usd",
    "reserves_usd",
    "surplus_usd",
    "coverage_ppm",
    "assets_without_price",
}
_USD_LINE = {
    "asset",
    "price",
    "liabilities_usd",
    "debts_usd",
    "net_liabilities_usd",
    "reserves_usd",
    "surplus_usd",
}
_COLLATERAL = {
    "price_decimals",
    "borrowing_accounts",
    "assets",
    "debt_usd",
    "collateral_after_haircut_usd",
    "coverage_ppm",
    "under_collateralised_accounts",
    "shortfall_usd",
    "status",
    "notes",
}
_COLLATERAL_LINE = {
    "asset",
    "debt",
    "collateral",
    "debt_usd",
    "collateral_after_haircut_usd",
    "coverage_ppm",
    "priced",
}


class ReconciliationMismatch(Exception):
    """A figure of reconciliation.json differs from its recomputation (or is malformed)."""


def _fields(value: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReconciliationMismatch(f"{where}: expected an object")
    if set(value) != keys:
        extra, missing = sorted(set(value) - keys), sorted(keys - set(value))
        raise ReconciliationMismatch(f"{where}: unknown fields {extra}, missing fields {missing}")
    return value


def _amount(value: Any, where: str, signed: bool = False) -> int:
    text = value[1:] if signed and isinstance(value, str) and value.startswith("-") else value
    if (
        not isinstance(text, str)
        or not text.isascii()
        or not text.isdigit()
        or len(text) > _DIGITS_MAX
    ):
        raise ReconciliationMismatch(f"{where}: expected a decimal string, got {value!r:.60}")
    if len(text) > 1 and text[0] == "0":
        raise ReconciliationMismatch(f"{where}: leading zero in {value!r}")
    if signed and text != value and text == "0":
        raise ReconciliationMismatch(f"{where}: -0 is not a canonical amount")
    return -int(text) if text != value else int(text)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReconciliationMismatch(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def _equal(where: str, stated: Any, want: Any) -> None:
    if stated != want or type(stated) is not type(want):
        raise ReconciliationMismatch(f"{where} {stated!r:.60}, expected {want!r}")


def _ppm(part: int, whole: int) -> int | None:
    return None if whole <= 0 else part * PPM // whole


def _text_list(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ReconciliationMismatch(f"{where}: expected a list of strings")


def _asset_lines(
    lines: Any, manifest: Manifest, held: Mapping[str, int]
) -> tuple[list[tuple[int, int, int]], list[str]]:
    """Per asset (liabilities, debts, reserves) and the PASS/FAIL verdicts."""
    if not isinstance(lines, list) or len(lines) != len(manifest.assets):
        raise ReconciliationMismatch("reconciliation.json: expected one line per manifest asset")
    out, verdicts = [], []
    for k, (asset, raw) in enumerate(zip(manifest.assets, lines, strict=True)):
        sym = asset.symbol
        if not isinstance(raw, dict) or raw.get("asset") != sym:
            raise ReconciliationMismatch(f"reconciliation line {k}: expected asset {sym}")
        line = _fields(raw, f"reconciliation line {k} ({sym})", _LINE)
        if line["decimals"] != asset.decimals:
            raise ReconciliationMismatch(
                f"{sym}: decimals {line['decimals']}, manifest {asset.decimals}"
            )
        liabilities = _amount(line["liabilities"], f"{sym} liabilities")
        debts = _amount(line["debts"], f"{sym} debts")
        if liabilities != manifest.root.equity[k] or debts != manifest.root.debt[k]:
            raise ReconciliationMismatch(
                f"{sym}: liabilities {liabilities} / debts {debts}, the signed root has"
                f" {manifest.root.equity[k]} / {manifest.root.debt[k]}"
            )
        net = liabilities - debts
        if _amount(line["net_liabilities"], f"{sym} net", signed=True) != net:
            raise ReconciliationMismatch(
                f"{sym}: net liabilities {line['net_liabilities']}, expected {net}"
            )
        reserve = _amount(line["reserves"], f"{sym} reserves")
        if reserve != held.get(sym, 0):
            raise ReconciliationMismatch(
                f"{sym}: reserves {reserve}, reserves.json totals {held.get(sym, 0)}"
            )
        custody = _amount(line["ledger_custody"], f"{sym} ledger_custody")
        _amount(line["in_flight_withdrawals"], f"{sym} in_flight_withdrawals")
        _amount(line["system_accounts"], f"{sym} system_accounts", signed=True)
        gap = reserve - custody
        if _amount(line["custody_gap"], f"{sym} custody_gap", signed=True) != gap:
            raise ReconciliationMismatch(
                f"{sym}: custody gap {line['custody_gap']}, expected {gap}"
            )
        coverage = None if net <= 0 else {"reserves": str(reserve), "net_liabilities": str(net)}
        _equal(f"{sym}: coverage", line["coverage"], coverage)
        ppm = _ppm(reserve, net)
        if line["coverage_ppm"] != ppm or isinstance(line["coverage_ppm"], bool):
            raise ReconciliationMismatch(
                f"{sym}: coverage_ppm {line['coverage_ppm']}, expected {ppm}"
            )
        verdict = "PASS" if reserve >= net else "FAIL"
        if line["status"] != verdict:
            raise ReconciliationMismatch(
                f"{sym}: status {line['status']}, reserves vs net give {verdict}"
            )
        out.append((liabilities, debts, reserve))
        verdicts.append(verdict)
    return out, verdicts


def _usd(value: Any, manifest: Manifest, amounts: Sequence[tuple[int, int, int]]) -> set[str]:
    """Check the USD view; return the priced symbols."""
    if value is None:
        return set()
    usd = _fields(value, "usd", _USD)
    if not isinstance(usd["rounding"], str):
        raise ReconciliationMismatch("usd.rounding: expected a string")
    _count(usd["price_decimals"], "usd.price_decimals")
    if usd["price_decimals"] > _PRICE_DECIMALS_MAX:
        raise ReconciliationMismatch(f"usd.price_decimals: at most {_PRICE_DECIMALS_MAX}")
    lines = usd["assets"]
    if not isinstance(lines, list):
        raise ReconciliationMismatch("usd.assets: expected a list")
    order = {a.symbol: k for k, a in enumerate(manifest.assets)}
    priced, last = [], -1
    totals = [0, 0, 0]
    for i, raw in enumerate(lines):
        line = _fields(raw, f"usd.assets[{i}]", _USD_LINE)
        sym = line["asset"]
        k = order.get(sym, -1) if isinstance(sym, str) else -1
        if k <= last:
            raise ReconciliationMismatch(
                f"usd.assets[{i}]: {sym!r} is not the next manifest asset in order"
            )
        last = k
        priced.append(sym)
        price = _amount(line["price"], f"usd {sym} price")
        liabilities, debts, reserves = amounts[k]
        scale = 10 ** manifest.assets[k].decimals
        want = {
            "liabilities_usd": -(-liabilities * price // scale),
            "debts_usd": debts * price // scale,
            "reserves_usd": reserves * price // scale,
        }
        want["net_liabilities_usd"] = want["liabilities_usd"] - want["debts_usd"]
        want["surplus_usd"] = want["reserves_usd"] - want["net_liabilities_usd"]
        for name, figure in want.items():
            if _amount(line[name], f"usd {sym} {name}", signed=True) != figure:
                raise ReconciliationMismatch(f"usd {sym}: {name} {line[name]}, expected {figure}")
        for j, name in enumerate(("liabilities_usd", "debts_usd", "reserves_usd")):
            totals[j] += want[name]
    liabilities, debts, reserves = totals
    net = liabilities - debts
    want_totals = {
        "liabilities_usd": liabilities,
        "debts_usd": debts,
        "net_liabilities_usd": net,
        "reserves_usd": reserves,
        "surplus_usd": reserves - net,
    }
    for name, figure in want_totals.items():
        if _amount(usd[name], f"usd {name}", signed=True) != figure:
            raise ReconciliationMismatch(f"usd: {name} {usd[name]}, expected {figure}")
    _equal("usd: coverage_ppm", usd["coverage_ppm"], _ppm(reserves, net))
    unpriced = [a.symbol for a in manifest.assets if a.symbol not in priced]
    _equal("usd: assets_without_price", usd["assets_without_price"], unpriced)
    return set(priced)


def _collateral(value: Any, manifest: Manifest, priced: set[str]) -> None:
    view = _fields(value, "collateral", _COLLATERAL)
    if _count(view["price_decimals"], "collateral.price_decimals") > _PRICE_DECIMALS_MAX:
        raise ReconciliationMismatch(f"collateral.price_decimals: at most {_PRICE_DECIMALS_MAX}")
    _count(view["borrowing_accounts"], "collateral.borrowing_accounts")
    _text_list(view["notes"], "collateral.notes")
    lines = view["assets"]
    if not isinstance(lines, list) or len(lines) != len(manifest.assets):
        raise ReconciliationMismatch("collateral.assets: expected one line per manifest asset")
    valued = view["collateral_after_haircut_usd"] is not None
    debt_total = collateral_total = 0
    unpriced_debts = []
    for k, (asset, raw) in enumerate(zip(manifest.assets, lines, strict=True)):
        sym = asset.symbol
        line = _fields(raw, f"collateral.assets[{k}]", _COLLATERAL_LINE)
        _equal(f"collateral.assets[{k}]: asset", line["asset"], sym)
        debt = _amount(line["debt"], f"collateral {sym} debt")
        if debt != manifest.root.debt[k]:
            raise ReconciliationMismatch(
                f"collateral {sym}: debt {debt}, the signed root's debt is {manifest.root.debt[k]}"
            )
        _amount(line["collateral"], f"collateral {sym} collateral")
        _equal(f"collateral {sym}: priced", line["priced"], sym in priced)
        if debt and sym not in priced:
            unpriced_debts.append(sym)
        if valued:
            owed = _amount(line["debt_usd"], f"collateral {sym} debt_usd")
            held = _amount(line["collateral_after_haircut_usd"], f"collateral {sym} collateral_usd")
            _equal(f"collateral {sym}: coverage_ppm", line["coverage_ppm"], _ppm(held, owed))
            debt_total += owed
            collateral_total += held
        else:
            for name in ("debt_usd", "collateral_after_haircut_usd", "coverage_ppm"):
                _equal(f"collateral {sym}: {name}", line[name], None)
    if not valued:
        for name in ("debt_usd", "coverage_ppm", "under_collateralised_accounts"):
            _equal(f"collateral: {name}", view[name], None)
        _equal("collateral: shortfall_usd", view["shortfall_usd"], None)
        _equal("collateral: status", view["status"], None)
        return
    _equal("collateral: debt_usd", view["debt_usd"], str(debt_total))
    _equal(
        "collateral: collateral_after_haircut_usd",
        view["collateral_after_haircut_usd"],
        str(collateral_total),
    )
    _equal("collateral: coverage_ppm", view["coverage_ppm"], _ppm(collateral_total, debt_total))
    under = _count(view["under_collateralised_accounts"], "collateral.under_collateralised")
    _amount(view["shortfall_usd"], "collateral.shortfall_usd")
    healthy = collateral_total >= debt_total and not under and not unpriced_debts
    _equal("collateral: status", view["status"], "PASS" if healthy else "WARN")


def recompute(
    report: Any, manifest: Manifest, document: Mapping[str, Any], held: Mapping[str, int]
) -> str:
    """Every figure of `report` recomputed (`held`: reserves.json's checked totals)."""
    if not isinstance(report, dict) or report.get("format") != "por-reconciliation/1":
        raise ReconciliationMismatch("reconciliation.json: expected format por-reconciliation/1")
    if report.get("snapshot_id") != manifest.snapshot_id:
        raise ReconciliationMismatch(
            f"reconciliation.json is for snapshot {report.get('snapshot_id')!r:.80}"
        )
    _fields(report, "reconciliation.json", _TOP)
    _text_list(report["notes"], "reconciliation.json notes")
    amounts, verdicts = _asset_lines(report["assets"], manifest, held)
    priced = _usd(report["usd"], manifest, amounts)
    _collateral(report["collateral"], manifest, priced)
    usd, collateral = report["usd"], report["collateral"]
    if usd is not None and usd["price_decimals"] != collateral["price_decimals"]:
        # both views are USD x 10^price_decimals of the same index prices: one scale
        raise ReconciliationMismatch(
            f"collateral.price_decimals {collateral['price_decimals']},"
            f" usd.price_decimals {usd['price_decimals']}: one scale for both views"
        )
    overall = "PASS" if all(v == "PASS" for v in verdicts) else "FAIL"
    if report["status"] != overall:
        raise ReconciliationMismatch(f"overall status {report['status']}, the lines give {overall}")
    stated = document.get("reconciliation")
    if stated is not None and stated != overall:
        raise ReconciliationMismatch(f"the manifest says {stated}, the report gives {overall}")
    return f"{len(verdicts)} assets, USD and collateral views recomputed: {overall}"
