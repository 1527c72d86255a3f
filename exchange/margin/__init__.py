"""Cross margin: collateral with haircuts, net equity, IMF/MMF, and the pre-trade check.

One account margins everything (Backpack's unified account): spot balances, lends,
perp PnL and borrows. See docs/margin.md for the formulas, scales and rounding.
"""

from __future__ import annotations

from typing import Any

from exchange.registry import Registry

from ._params import (
    QUOTE,
    CollateralParams,
    MarginState,
    PerpParams,
    fold_collateral_params,
    index_price,
    margin_state,
    mark_price,
    register_params,
)
from ._risk import (
    USER_BUCKETS,
    AccountRisk,
    Exposure,
    MarginRisk,
    account_risk,
    collateral_value,
    collateral_weight,
    initial_margin_problem,
    liability_value,
    margin_curve,
    net_balance,
    usd_sqrt,
)
from ._view import account_view

__all__ = [
    "QUOTE",
    "USER_BUCKETS",
    "AccountRisk",
    "CollateralParams",
    "Exposure",
    "MarginRisk",
    "MarginState",
    "PerpParams",
    "account_risk",
    "account_view",
    "collateral_value",
    "collateral_weight",
    "fold_collateral_params",
    "index_price",
    "liability_value",
    "margin_curve",
    "net_balance",
    "margin_state",
    "mark_price",
    "register",
    "usd_sqrt",
]


def register(registry: Registry) -> None:
    register_params(registry, guard=initial_margin_problem)
    make = registry.states.get("matching")
    if make is not None:

        def with_margin_risk() -> Any:
            ms = make()
            ms.risk = MarginRisk()  # the matching engine's pre-trade risk hook
            return ms

        registry.states["matching"] = with_margin_risk
