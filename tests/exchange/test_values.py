"""The exchange's shared values: one decimal parser, with the bounds each reader documents."""

from __future__ import annotations

import pytest

from exchange.errors import InvalidCommandError
from exchange.values import (
    BAND_WHOLE_DIGITS,
    FRACTION,
    PARAM_WHOLE_DIGITS,
    MarketKind,
    MarketState,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    band_fraction,
    format_fraction,
    fraction,
    parse_fixed,
)


@pytest.mark.parametrize("digits", [PARAM_WHOLE_DIGITS, BAND_WHOLE_DIGITS])
def test_parse_fixed_accepts_exactly_its_whole_digit_bound(digits: int) -> None:
    widest = "9" * digits + ".000000001"
    assert parse_fixed(widest, digits) == int("9" * digits) * FRACTION + 1
    assert parse_fixed("1" + "0" * digits, digits) is None


@pytest.mark.parametrize("text", ["-1", "1e3", "01", ".5", "1.", "0.0000000001", " 1", "1_0"])
def test_parse_fixed_refuses_what_is_not_a_plain_decimal(text: str) -> None:
    assert parse_fixed(text, PARAM_WHOLE_DIGITS) is None


def test_lending_and_pricing_readers_keep_their_bounds_and_messages() -> None:
    big = "1" + "0" * 12  # 13 whole digits: a lending parameter, not a price band
    assert fraction({"f": big}, "f") == 10**12 * FRACTION
    with pytest.raises(
        InvalidCommandError, match=r'field \'f\' must be a decimal string like "0.99"'
    ):
        band_fraction({"f": big}, "f", 0)
    with pytest.raises(InvalidCommandError, match=r"field 'f': expected a non-negative decimal"):
        fraction({"f": "1.0000000001"}, "f")
    with pytest.raises(InvalidCommandError, match=r"missing field 'f'"):
        fraction({}, "f")
    assert band_fraction({}, "f", 7) == 7
    assert format_fraction(fraction({"f": "0.02"}, "f")) == "0.02"


def test_every_vocabulary_reads_back_its_command_log_spelling() -> None:
    for vocabulary in (Side, OrderType, TimeInForce, SelfTradePrevention, MarketKind, MarketState):
        for member in vocabulary:
            assert vocabulary.parse(member.wire) is member
    assert [k.wire for k in MarketKind] == ["spot", "perp"]
    assert [s.wire for s in MarketState] == [
        "Open",
        "CancelOnly",
        "PostOnly",
        "LimitOnly",
        "Closed",
    ]
    with pytest.raises(KeyError):
        MarketState.parse("open")
