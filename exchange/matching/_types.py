"""Small closed vocabularies of the matching engine (sides, order types, time in force, STP).

They are `IntEnum`s: members are plain ints, so the hot loops compare them at int speed,
and they serialise to the lower-case names used in the command log (`Side.BUY.wire`).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["OrderType", "SelfTradePrevention", "Side", "TimeInForce"]


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


_WIRE: dict[type[_Wire], dict[int, str]] = {
    Side: {Side.BUY: "buy", Side.SELL: "sell"},
    OrderType: {OrderType.LIMIT: "limit", OrderType.MARKET: "market"},
    TimeInForce: {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"},
    SelfTradePrevention: {
        SelfTradePrevention.REJECT_TAKER: "RejectTaker",
        SelfTradePrevention.REJECT_MAKER: "RejectMaker",
        SelfTradePrevention.REJECT_BOTH: "RejectBoth",
    },
}
_PARSE: dict[type[_Wire], dict[str, _Wire]] = {
    cls: {text: cls(value) for value, text in names.items()} for cls, names in _WIRE.items()
}
