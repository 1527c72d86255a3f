"""`por demo` and the sample data it runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def test_demo_applies_the_sample_log_to_a_fresh_ledger_and_prints_balances(tmp_path: Path) -> None:
    for _ in range(2):  # a second run starts fresh again
        result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "applied 2870 commands" in lines[1]
    assert "invariants hold" in lines[1]
    btc = next(line for line in lines if line.startswith("BTC"))
    owed, held = btc.split()[2:4]
    assert owed == held, "users are owed exactly what custody holds"


def test_the_sample_log_is_reproducible_byte_for_byte() -> None:
    spec = importlib.util.spec_from_file_location("generate", REPO / "sample_data" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "".join(line + "\n" for line in module.generate())
    assert text == (REPO / "sample_data" / "commands.jsonl").read_text(encoding="utf-8")
