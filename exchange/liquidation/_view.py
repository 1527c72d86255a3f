"""Read-only views for the CLI: an account's distance to liquidation, the liquidation log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._headroom import SCALE, room

if TYPE_CHECKING:
    from exchange.model import Event
    from exchange.state import LedgerState

__all__ = ["distance_to_liquidation", "liquidation_rows"]


def distance_to_liquidation(state: LedgerState, account: str) -> dict[str, Any] | None:
    """headroom = equity - maintenance (USDC units), maintenance ratio (maintenance /
    equity, 10^9 = 100 %: liquidated at or above), and `safe_move`: the relative move of
    every price at once that cannot liquidate the account (10^9 = 100 %, a conservative
    lower bound; see docs/liquidation.md). None without exposure or margin module."""
    if "margin" not in state.ext:
        return None
    from exchange.margin import account_risk

    from ._commands import drivers_of

    risk = account_risk(state, account)
    if not risk.exposure:
        return None
    headroom = risk.equity - risk.maintenance
    ratio = None if risk.equity <= 0 else -(-risk.maintenance * SCALE // risk.equity)
    mmf = {item.name: item.mmf for item in risk.items}
    intervals = room(headroom, drivers_of(state, account, mmf))
    move = 0
    if intervals and headroom > 0:
        name, low, high = intervals[0]
        price = (low + high) // 2
        move = (price - low) * SCALE // price if price else 0
    return {
        "headroom": headroom,
        "maintenance_ratio": ratio,
        "safe_move": move,
        "liquidatable": headroom <= 0,
        "unpriced": list(risk.unpriced),
    }


def liquidation_rows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """One row per waterfall step recorded by the `liquidation` job, in journal order."""
    rows = []
    for event in events:
        if event.cmd != "liquidation" or event.status != "accepted" or not event.data:
            continue
        for step in event.data.get("steps", ()):
            rows.append({"seq": event.seq, "ts": event.ts, **step})
    return rows
