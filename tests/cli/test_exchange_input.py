"""`por exchange run` on hostile command logs (issue 17, item 9): every string of a command
must be storable the same way by SQLite and PostgreSQL and printable without side effects,
and no line may crash the run; an invalid line keeps the lines before it committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

ASSET = '{"cmd":"asset","symbol":"BTC","decimals":8}'
ALICE = '{"cmd":"deposit","account":"alice","asset":"BTC","amount":"5","tx":"t1"}'


def por(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"traceback: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


def _run(tmp_path: Path, db_url: str, *lines: str) -> tuple[int, str]:
    log = tmp_path / "log.jsonl"
    log.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    code, _, err = por("exchange", "run", str(log), "--db", db_url, "--batch", "1000")
    return code, err


def _seq(db_url: str) -> int:
    code, out, err = por("exchange", "state", "--json", "--db", db_url)
    assert code == 0, err
    seq: int = json.loads(out)["seq"]
    return seq


@pytest.mark.parametrize(
    "line",
    [
        '{"cmd":"deposit","account":"\\ud800","asset":"BTC","amount":"1","tx":"t2"}',
        '{"cmd":"account","id":"a\\udfffb"}',
        '{"cmd":"deposit","account":"bob","asset":"BTC","amount":"1","tx":"\\ud83d"}',
        '{"cmd":"deposit","account":"bob","asset":"BTC","amount":"1","tx":"t2","\\ud800":1}',
        '{"cmd":"deposit","account":"bob","asset":"BTC","amount":"1","tx":"t2","x":["\\udc00"]}',
    ],
)
def test_a_lone_surrogate_is_an_invalid_line_and_the_lines_before_stay_committed(
    db_url: str, tmp_path: Path, line: str
) -> None:
    code, err = _run(tmp_path, db_url, ASSET, ALICE, line)
    assert code == 2
    assert ":3: string_must_not_contain_lone_surrogates: " in err, err
    assert "internal error" not in err
    assert _seq(db_url) == 2, "lines 1-2 must be committed, line 3 not"


@pytest.mark.parametrize(
    ("escaped", "shown"),
    [
        ("a\\u0000b", "U+0000"),
        ("a\\nb", "U+000A"),
        ("a\\rb", "U+000D"),
        ("a\\u001b[31mred", "U+001B"),
        ("a\\u007fb", "U+007F"),
        ("a\\u009b31mred", "U+009B"),
        ("a\u009b31mred", "U+009B"),  # raw C1 CSI, valid UTF-8 JSON without an escape
    ],
)
def test_an_id_with_nul_newline_or_terminal_escape_is_an_invalid_line(
    db_url: str, tmp_path: Path, escaped: str, shown: str
) -> None:
    deposit = '{"cmd":"deposit","account":"' + escaped + '","asset":"BTC","amount":"1","tx":"t2"}'
    code, err = _run(tmp_path, db_url, ASSET, ALICE, deposit)
    assert code == 2
    assert ":3: string_must_not_contain_control_characters: field 'account'" in err
    assert shown in err, err
    assert _seq(db_url) == 2
    code, out, _ = por("exchange", "state", "--json", "--db", db_url)
    assert list(json.loads(out)["balances"]) == ["@custody", "alice"]


def test_a_100k_deep_extra_field_is_an_invalid_line_not_a_recursion_error(
    db_url: str, tmp_path: Path
) -> None:
    deep = '{"cmd":"account","id":"bob","x":' + "[" * 100_000 + "]" * 100_000 + "}"
    code, err = _run(tmp_path, db_url, ASSET, ALICE, deep)
    assert code == 2
    assert ":3: json_nesting_must_be_at_most_32: " in err, err
    assert _seq(db_url) == 2


def test_a_shallow_line_with_many_brackets_in_strings_and_lists_is_still_a_command(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    wide = '{"cmd":"account","id":"bob","x":[' + ",".join(["[[]]"] * 50) + '],"s":"[[[[{{{{"}'
    code, err = _run(tmp_path, db, ASSET, wide)
    assert code == 0, err
    assert _seq(db) == 2
