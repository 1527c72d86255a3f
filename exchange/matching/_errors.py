"""The matching package's error root and its reject codes.

A reject code names the rule that was broken (TigerBeetle style); the engine records it with
the rejected command. Codes are stable strings: they appear in the command log's results.
"""

from __future__ import annotations

__all__ = ["MatchingError", "OrderRejected", "Reject"]


class Reject:
    """Reject reason codes, one constant per rule."""

    UNKNOWN_MARKET = "unknown_market"
    UNKNOWN_ORDER = "unknown_order"
    MARKET_CLOSED = "market_closed"
    MARKET_CANCEL_ONLY = "market_cancel_only"
    MARKET_POST_ONLY = "market_post_only"
    MARKET_LIMIT_ONLY = "market_limit_only"
    QUANTITY_MUST_BE_POSITIVE = "quantity_must_be_positive"
    PRICE_MUST_BE_POSITIVE = "price_must_be_positive"
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    QUANTITY_NOT_ON_STEP = "quantity_not_on_step"
    NOTIONAL_BELOW_MINIMUM = "notional_below_minimum"
    QUANTITY_ABOVE_MAXIMUM = "quantity_above_maximum"
    PRICE_ABOVE_MAXIMUM = "price_above_maximum"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    ORDER_NOT_OWNED = "order_not_owned"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    POST_ONLY_REQUIRES_LIMIT = "post_only_requires_limit"
    MARKET_ORDER_MUST_NOT_REST = "market_order_must_not_rest"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    REDUCE_ONLY_REQUIRES_PERP = "reduce_only_requires_perp"
    REDUCE_ONLY_WOULD_INCREASE = "reduce_only_would_increase"
    REDUCE_ONLY_EXCEEDS_POSITION = "reduce_only_exceeds_position"
    INSUFFICIENT_AVAILABLE_BALANCE = "insufficient_available_balance"  # the ledger's code
    MARKET_DEFINITION_MUST_NOT_CHANGE = "market_definition_must_not_change"
    MARKET_CONFIG_INVALID = "market_config_invalid"
    NOTIONAL_ABOVE_MAXIMUM = "notional_above_maximum"
    UNKNOWN_ASSET = "unknown_asset"
    NO_LIQUIDITY = "no_liquidity"
    UNKNOWN_ACCOUNT = "unknown_account"


class MatchingError(Exception):
    """Root of every error raised by `exchange.matching`."""


class OrderRejected(MatchingError):
    """A command broke a rule; nothing was changed. `code` is a `Reject` constant."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
