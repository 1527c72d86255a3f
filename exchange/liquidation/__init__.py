"""Liquidation: find accounts at or below maintenance at every mark update, and run the
waterfall (book, insurance, ADL, backstop providers, backstop capital). See
docs/liquidation.md.
"""

from __future__ import annotations

from ._commands import (
    JOB,
    MODULE,
    current_prices,
    drivers_of,
    evaluate,
    find_liquidatable,
    liquidation_state,
    register,
    scan_liquidatable,
)
from ._headroom import SENSITIVITY, HeadroomIndex, room
from ._state import LiquidationParams, LiquidationState
from ._view import distance_to_liquidation, liquidation_rows
from ._waterfall import TRANSFER_BUCKETS, liquidate, move_position, net_value, positions_of

__all__ = [
    "JOB",
    "MODULE",
    "SENSITIVITY",
    "TRANSFER_BUCKETS",
    "HeadroomIndex",
    "LiquidationParams",
    "LiquidationState",
    "current_prices",
    "distance_to_liquidation",
    "drivers_of",
    "evaluate",
    "find_liquidatable",
    "liquidate",
    "liquidation_rows",
    "liquidation_state",
    "move_position",
    "net_value",
    "positions_of",
    "register",
    "room",
    "scan_liquidatable",
]
