"""The margin view of one account (what `por exchange account A` shows): collateral,
equity, margin fractions, positions, lends and borrows with their current rates.

Amounts are decimal strings of smallest units; fractions and rates are exact decimal
strings ("0.02"); rates are annual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.lending import borrow_rate, lend_rate, lending_state, pool_totals
from exchange.values import FRACTION, WAD, format_fraction

from ._risk import account_risk

if TYPE_CHECKING:
    from exchange.state import LedgerState

__all__ = ["account_view"]


def _frac(value: int | None, scale: int = FRACTION) -> str | None:
    return None if value is None else format_fraction(value, scale)


def account_view(state: LedgerState, account: str) -> dict[str, Any]:
    risk = account_risk(state, account)
    ls = lending_state(state)
    lends = []
    borrows = []
    for asset in sorted(state.assets):
        lent = state.balances.get((account, asset, "lent"), 0)
        debt = -state.balances.get((account, asset, "borrowed"), 0)
        if not (lent or debt):
            continue
        total_lent, total_borrowed, _ = pool_totals(state, asset)
        params = ls.params_of(asset)
        if lent:
            rate = lend_rate(params, total_borrowed, total_lent)
            lends.append({"asset": asset, "amount": str(lent), "rate": _frac(rate, WAD)})
        if debt:
            rate = borrow_rate(params, total_borrowed, total_lent)
            borrows.append({"asset": asset, "amount": str(debt), "rate": _frac(rate, WAD)})
    positions = [
        {
            "market": item.name,
            "size": str(item.size),
            "mark": str(item.mark),
            "notional": str(item.notional),
            "unrealised": str(item.unrealised),
            "imf": _frac(item.imf),
            "mmf": _frac(item.mmf),
        }
        for item in risk.items
        if not item.name.startswith("borrow:")
    ]
    auto_lend = {
        asset: ls.auto_lends(account, asset) for asset in sorted(ls.params) if asset in state.assets
    }
    return {
        "collateral": str(risk.collateral),
        "liabilities": str(risk.liabilities),
        "unrealised": str(risk.unrealised),
        "equity": str(risk.equity),
        "exposure": str(risk.exposure),
        "initial_margin": str(risk.initial),
        "maintenance_margin": str(risk.maintenance),
        "margin_fraction": _frac(risk.margin_fraction),
        "account_imf": _frac(risk.account_imf),
        "account_mmf": _frac(risk.account_mmf),
        "unpriced": risk.unpriced,
        "positions": positions,
        "lends": lends,
        "borrows": borrows,
        "auto_lend": auto_lend,
    }
