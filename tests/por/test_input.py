"""Reading files with bounded memory and decoding JSON strictly."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from por._input import MAX_JSON_BYTES, Rejected, iter_json_lines, load_json, read_bounded
from por.errors import InputError, NotJSONError


def test_a_file_over_the_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as stream:
        stream.truncate(4 << 30)  # sparse 4 GiB: reading it all would take seconds and RAM
    with pytest.raises(InputError, match=f"too large: expected at most {MAX_JSON_BYTES} bytes"):
        read_bounded(big)


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "edge.json"
    path.write_bytes(b" " * 99 + b"1")
    assert read_bounded(path, limit=100) == b" " * 99 + b"1"
    with pytest.raises(InputError, match="at most 99 bytes"):
        read_bounded(path, limit=99)


def test_missing_files_and_directories_are_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read: No such file"):
        read_bounded(tmp_path / "nope.json")
    with pytest.raises(InputError, match="cannot read: Is a directory"):
        read_bounded(tmp_path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "Expecting value"),
        (b'{"a": ', "Expecting value"),
        (b"\xff\xfe", "invalid UTF-8"),
        (b"NaN", "NaN is not a JSON value"),
        (b"[Infinity]", "Infinity is not a JSON value"),
        (b"{} {}", "Extra data"),
    ],
)
def test_bytes_that_are_not_json_raise_not_json_error(raw: bytes, message: str) -> None:
    with pytest.raises(NotJSONError, match=message):
        load_json(raw, "proof")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"a": 1, "a": 2}', "object with duplicate key 'a'"),
        (b"1.5", "JSON number 1.5"),
        (b"1" + b"0" * 50, "JSON integer of 51 digits"),
        (b"[" * 50_000 + b"]" * 50_000, "JSON nested too deeply"),
    ],
)
def test_json_no_record_accepts_becomes_a_rejected_marker(raw: bytes, why: str) -> None:
    value = load_json(raw)
    assert isinstance(value, Rejected) and value.why == why


def test_json_lines_are_read_one_at_a_time_with_line_numbers() -> None:
    stream = io.BytesIO(b'{"a": 1}\n[2]\r\n3')
    assert list(iter_json_lines(stream)) == [(1, {"a": 1}), (2, [2]), (3, 3)]


def test_a_json_line_over_the_limit_or_empty_is_refused() -> None:
    with pytest.raises(InputError, match="line 2 too long"):
        list(iter_json_lines(io.BytesIO(b"1\n" + b" " * 20 + b"1\n"), limit=10))
    with pytest.raises(NotJSONError, match="line 2 is empty"):
        list(iter_json_lines(io.BytesIO(b"1\n\n2\n")))
