"""exchange._linecheck: nesting and strings of a command, checked before any parser."""

from __future__ import annotations

import pytest

from exchange._linecheck import MAX_NESTING, check_nesting, check_strings
from exchange.engine import Exchange
from exchange.errors import InvalidCommandError


def _nested(depth: int) -> str:
    return '{"cmd":"account","id":"bob","x":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_nesting_up_to_the_maximum_passes_and_one_more_is_refused() -> None:
    check_nesting(_nested(MAX_NESTING))
    with pytest.raises(InvalidCommandError, match=f"json_nesting_must_be_at_most_{MAX_NESTING}"):
        check_nesting(_nested(MAX_NESTING + 1))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    check_nesting('{"a":"' + "[" * 100 + '\\"{{{{"}')


def test_a_dict_command_with_a_lone_surrogate_or_del_is_invalid_and_changes_nothing() -> None:
    ex = Exchange()
    ex.apply({"cmd": "asset", "symbol": "BTC", "decimals": 8})
    for account in ("\ud800", "a\x7fb"):
        with pytest.raises(InvalidCommandError, match="field 'account' has U\\+"):
            ex.apply(
                {"cmd": "deposit", "account": account, "asset": "BTC", "amount": "1", "tx": "t"}
            )
    assert ex.state.seq == 1
    assert ex.state.accounts.keys().isdisjoint({"\ud800", "a\x7fb"})


def test_a_surrogate_pair_and_printable_unicode_are_text() -> None:
    check_strings({"id": "\U0001f600 é 中"}, '{"id":"\\ud83d\\ude00 \\u00e9 \\u4e2d"}')


def test_a_bad_key_deep_in_an_extra_field_is_named_by_its_field() -> None:
    with pytest.raises(InvalidCommandError, match="a key in field 'x' has U\\+001B at index 0"):
        check_strings({"x": [{"\x1b": 1}]}, "\\u001b")
