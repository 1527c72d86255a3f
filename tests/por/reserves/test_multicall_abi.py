"""The hand-rolled aggregate3 coding equals eth_abi's (differential test)."""

from __future__ import annotations

import eth_abi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.reserves import _abi

calls = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.booleans(), st.binary(max_size=80)),
    max_size=12,
)
results = st.lists(st.tuples(st.booleans(), st.binary(max_size=80)), max_size=12)


@settings(max_examples=100, deadline=None)
@given(calls)
def test_aggregate3_calldata_equals_eth_abi(items: list[tuple[bytes, bool, bytes]]) -> None:
    reference = _abi.AGGREGATE3 + eth_abi.encode(["(address,bool,bytes)[]"], [items])
    assert _abi.encode_aggregate3(items) == reference


@settings(max_examples=100, deadline=None)
@given(results)
def test_aggregate3_results_decode_like_eth_abi(items: list[tuple[bool, bytes]]) -> None:
    encoded = eth_abi.encode(["(bool,bytes)[]"], [items])
    assert _abi.decode_aggregate3(encoded, len(items)) == items


def test_truncated_return_data_is_an_abi_error() -> None:
    encoded = eth_abi.encode(["(bool,bytes)[]"], [[(True, b"\x01" * 32)]])
    with pytest.raises(_abi.AbiError, match="too short"):
        _abi.decode_aggregate3(encoded[:-40], 1)


def test_a_wrong_number_of_results_is_an_abi_error() -> None:
    encoded = eth_abi.encode(["(bool,bytes)[]"], [[(True, b"")]])
    with pytest.raises(_abi.AbiError, match="returned 1 results, expected 2"):
        _abi.decode_aggregate3(encoded, 2)


def test_a_balance_must_be_exactly_one_word() -> None:
    with pytest.raises(_abi.AbiError, match="expected 32 bytes of return data, got 31"):
        _abi.decode_uint256(b"\x00" * 31, "USDC balance")
