"""Shared values of the exchange's engines: fixed-point scales and their one decimal parser,
order and market vocabularies (`Side`, `MarketKind`, ...) and parts per million.

Leaf of the package graph beside `exchange.model` (imports only `exchange.errors`):
matching, margin, lending, pricing, settlement and liquidation import these from here, so
a scale or a rounding rule has one home.

Scales (all plain ints, no floats anywhere):
- `FRACTION` = 10^9: parameters that are fractions (utilisation, rates per year, weights,
  margin fractions, fee shares, price bands): "0.02" -> 20_000_000; "0.00002494" -> 24_940.
- `WAD` = 10^18: computed rates and utilisation (more precision than the parameters).
- `RAY` = 10^27: interest indexes (Aave's ray): an index of RAY means 1.0.
- `PPM` = 10^6: fee rates, in parts per million of the notional.

Decimal fractions in commands are strings with at most `FRACTION_DIGITS` (9) fraction
digits and no sign or exponent. Their whole part is bounded by where they are used:
- `PARAM_WHOLE_DIGITS` (21): lending pool and margin parameters (`fraction`);
- `BAND_WHOLE_DIGITS` (9): pricing multipliers, bands and tolerances, liquidation
  parameters (`band_fraction`), values near 1 whose products with prices stay small.
"""

from __future__ import annotations

import re
from enum import IntEnum
from math import isqrt
from typing import Any

from exchange.errors import InvalidCommandError

__all__ = [
    "BAND_WHOLE_DIGITS",
    "FRACTION",
    "FRACTION_DIGITS",
    "HOURS_PER_YEAR",
    "PARAM_WHOLE_DIGITS",
    "PPM",
    "RAY",
    "WAD",
    "MarketKind",
    "MarketState",
    "OrderType",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
    "band_fraction",
    "ceil_div",
    "ceil_mul",
    "ceil_sqrt",
    "floor_mul",
    "format_fraction",
    "fraction",
    "parse_fixed",
    "parse_fraction",
]

FRACTION_DIGITS = 9
FRACTION: int = 10**FRACTION_DIGITS
WAD = 10**18
RAY = 10**27
PPM = 1_000_000  # fee rates are integers in parts per million of the notional
HOURS_PER_YEAR = 8_760  # 365 days: an annual rate r accrues r / 8760 per hour

PARAM_WHOLE_DIGITS = 21  # lending and margin parameters: at most 21 digits before the point
BAND_WHOLE_DIGITS = 9  # pricing bands and liquidation parameters: at most 9

_FIXED_RE = {
    digits: re.compile(rf"(0|[1-9][0-9]{{0,{digits - 1}}})(\.([0-9]{{1,{FRACTION_DIGITS}}}))?")
    for digits in (PARAM_WHOLE_DIGITS, BAND_WHOLE_DIGITS)
}


# ---------------------------------------------------------------------------- fixed point


def parse_fixed(text: str, whole_digits: int) -> int | None:
    """Exact decimal string -> int at FRACTION scale ("0.0135" -> 13_500_000), or None for
    anything else: a sign, an exponent, a leading zero, more than `whole_digits` digits
    before the point (one of the named bounds above) or more than 9 after it."""
    m = _FIXED_RE[whole_digits].fullmatch(text)
    if m is None:
        return None
    return int(m.group(1)) * FRACTION + int((m.group(3) or "").ljust(FRACTION_DIGITS, "0"))


def parse_fraction(text: str) -> int:
    """`parse_fixed` within `PARAM_WHOLE_DIGITS`; ValueError for anything else."""
    value = parse_fixed(text, PARAM_WHOLE_DIGITS)
    if value is None:
        raise ValueError(
            f"expected a non-negative decimal with at most {FRACTION_DIGITS} fraction digits, "
            f"got {text!r}"
        )
    return value


def fraction(raw: dict[str, Any], name: str, default: int | None = None) -> int:
    """Field reader of lending and margin parameters: a decimal string ("0.02") as an int
    at FRACTION scale (`PARAM_WHOLE_DIGITS`); a missing field is its default or an error."""
    if name not in raw:
        if default is None:
            raise InvalidCommandError(f"missing field {name!r}")
        return default
    value = raw[name]
    if not isinstance(value, str):
        raise InvalidCommandError(f'field {name!r} must be a decimal string like "0.02"')
    try:
        return parse_fraction(value)
    except ValueError as exc:
        raise InvalidCommandError(f"field {name!r}: {exc}") from None


def band_fraction(raw: dict[str, Any], name: str, default: int) -> int:
    """Field reader of pricing bands and liquidation parameters: an optional decimal string
    ("0.99") as an int at FRACTION scale (`BAND_WHOLE_DIGITS`)."""
    if name not in raw:
        return default
    value = raw[name]
    parsed = parse_fixed(value, BAND_WHOLE_DIGITS) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidCommandError(
            f'field {name!r} must be a decimal string like "0.99" (at most 9 fraction '
            f"digits), got {value!r}"
        )
    return parsed


def format_fraction(value: int, scale: int = FRACTION) -> str:
    """Exact decimal rendering of a scaled int (for views): 20_000_000 -> "0.02"."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), scale)
    digits = len(str(scale)) - 1
    text = str(frac).rjust(digits, "0").rstrip("0")
    return f"{sign}{whole}.{text}" if text else f"{sign}{whole}"


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0."""
    return -(-a // b)


def ceil_sqrt(n: int) -> int:
    """ceil(sqrt(n)) for n >= 0 (math.isqrt is the floor)."""
    if n <= 0:
        return 0
    r = isqrt(n)
    return r if r * r == n else r + 1


def floor_mul(price: int, frac: int) -> int:
    """floor(price * frac / FRACTION)."""
    return price * frac // FRACTION


def ceil_mul(price: int, frac: int) -> int:
    """ceil(price * frac / FRACTION)."""
    return -(-price * frac // FRACTION)


# ---------------------------------------------------------------------------- vocabularies
# `IntEnum`s: members are plain ints, so the matching loops compare them at int speed, and
# they serialise to the names used in the command log (`Side.BUY.wire`).


class _Wire(IntEnum):
    @property
    def wire(self) -> str:
        """The command-log spelling of this member (Backpack vocabulary)."""
        return _WIRE[type(self)][self]

    @classmethod
    def parse(cls, text: str) -> _Wire:
        """The member named `text` in the command log; `KeyError` when there is none."""
        return _PARSE[cls][text]


class Side(_Wire):
    """Bid buys the base asset, ask sells it."""

    BUY = 0
    SELL = 1


class OrderType(_Wire):
    LIMIT = 0
    MARKET = 1


class TimeInForce(_Wire):
    """GTC rests the remainder; IOC cancels it; FOK fills completely or not at all."""

    GTC = 0
    IOC = 1
    FOK = 2


class SelfTradePrevention(_Wire):
    """What happens when a taker meets a resting order of the same account (taker's mode)."""

    REJECT_TAKER = 0  # the taker's remainder is cancelled, the maker stays
    REJECT_MAKER = 1  # the maker is cancelled, the taker continues
    REJECT_BOTH = 2  # both are cancelled


class MarketKind(_Wire):
    SPOT = 0  # base and quote change hands
    PERP = 1  # USDC-settled perpetual: fills change positions, PnL is paid in the quote asset


class MarketState(_Wire):
    """Backpack's market states; each allows a subset of order commands."""

    OPEN = 0  # everything
    CANCEL_ONLY = 1  # cancels only
    POST_ONLY = 2  # post-only limit orders and cancels
    LIMIT_ONLY = 3  # limit orders (no market orders) and cancels
    CLOSED = 4  # nothing rests: entering Closed cancels every resting order


_WIRE: dict[type[_Wire], dict[int, str]] = {
    Side: {Side.BUY: "buy", Side.SELL: "sell"},
    OrderType: {OrderType.LIMIT: "limit", OrderType.MARKET: "market"},
    TimeInForce: {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"},
    SelfTradePrevention: {
        SelfTradePrevention.REJECT_TAKER: "RejectTaker",
        SelfTradePrevention.REJECT_MAKER: "RejectMaker",
        SelfTradePrevention.REJECT_BOTH: "RejectBoth",
    },
    MarketKind: {MarketKind.SPOT: "spot", MarketKind.PERP: "perp"},
    MarketState: {
        MarketState.OPEN: "Open",
        MarketState.CANCEL_ONLY: "CancelOnly",
        MarketState.POST_ONLY: "PostOnly",
        MarketState.LIMIT_ONLY: "LimitOnly",
        MarketState.CLOSED: "Closed",
    },
}
_PARSE: dict[type[_Wire], dict[str, _Wire]] = {
    cls: {text: cls(value) for value, text in names.items()} for cls, names in _WIRE.items()
}
