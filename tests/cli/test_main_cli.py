"""The `por` entry point's net: an error no command expected is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli.log
from cli.main import DEBUG_ENV, main
from por.operator.signing import generate


def _broken_open(db_url: str) -> None:
    raise RuntimeError(f"boom in {db_url}\nsecond line")


def test_an_unexpected_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    monkeypatch.setattr(cli.log, "_open", _broken_open)
    with pytest.raises(SystemExit) as exit_info:
        main(["log", "head", "--db", f"sqlite:///{tmp_path / 'log.db'}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("por: internal error (please report it;"), err
    assert "RuntimeError: boom in sqlite:///" in err and "\\nsecond line" in err
    assert "Traceback" not in err


def test_the_debug_switch_shows_the_error_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")
    monkeypatch.setattr(cli.log, "_open", _broken_open)
    with pytest.raises(RuntimeError, match="boom in"):
        main(["log", "head", "--db", f"sqlite:///{tmp_path / 'log.db'}"])


def test_expected_errors_keep_their_own_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "verify",
                "proof",
                str(tmp_path / "absent.json"),
                "--manifest",
                "m.json",
                "--public-key",
                generate().public_key_hex,
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and err.count("\n") == 1, err
