"""Canonical amount strings and human units."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por._hashing import AMOUNT_LIMIT
from por.amounts import AmountError, format_amount, format_units, parse_amount, parse_units


@pytest.mark.parametrize("text", ["0", "1", "1500", str(AMOUNT_LIMIT - 1)])
def test_canonical_amounts_parse_and_print_back_identically(text: str) -> None:
    assert format_amount(parse_amount(text)) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("00", "leading zero"),
        ("01", "leading zero"),
        ("-1", "negative"),
        ("+1", "not a canonical decimal"),
        (" 1", "not a canonical decimal"),
        ("1 ", "not a canonical decimal"),
        ("1.0", "not a canonical decimal"),
        ("1e3", "not a canonical decimal"),
        ("", "not a canonical decimal"),
        ("\u0661", "not a canonical decimal"),  # ARABIC-INDIC DIGIT ONE
        (str(AMOUNT_LIMIT), "below 2\\^128"),
        ("9" * 5000, "below 2\\^128"),
        (5, "got JSON number 5"),
        (True, "got JSON boolean"),
        (None, "got null"),
        (["1"], "got list"),
    ],
)
def test_anything_but_a_canonical_amount_string_is_refused(value: object, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_amount(value, "leaf.equity[0]")


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (55952670379, 8, "559.52670379"),
        (100_000_000, 8, "1"),
        (1, 18, "0.000000000000000001"),
        (1_500_000, 6, "1.5"),
        (0, 9, "0"),
        (42, 0, "42"),
    ],
)
def test_human_units_are_exact_and_drop_trailing_zeros(
    value: int, decimals: int, text: str
) -> None:
    assert format_units(value, decimals) == text
    assert parse_units(text, decimals) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(0, AMOUNT_LIMIT - 1), st.integers(0, 40))
def test_parse_units_inverts_format_units(value: int, decimals: int) -> None:
    assert parse_units(format_units(value, decimals), decimals) == value


def test_more_decimal_places_than_the_asset_has_are_refused_not_rounded() -> None:
    with pytest.raises(AmountError, match="at most 6 decimal places, got 7"):
        parse_units("1.0000001", 6)
    assert parse_units("1.5000000", 6) == 1_500_000
