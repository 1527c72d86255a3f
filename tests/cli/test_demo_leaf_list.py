"""`por demo --leaf-list auditors|none` on a one-hour day: the demo's auditor step passes
in both modes (with the demo auditor's age key, or with the rebuild said not to run), and
the bundles hold the encrypted list or none. (The public default runs in
tests/test_end_to_end.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli._demo_run import AUDITOR_IDENTITY
from cli.main import cli


@pytest.mark.parametrize("mode", ["auditors", "none"])
def test_the_demo_publishes_and_audits_every_leaf_list_mode(tmp_path: Path, mode: str) -> None:
    args = ["demo", "--out", str(tmp_path), "--accounts", "20", "--hours", "1", "--quiet"]
    result = CliRunner().invoke(cli, [*args, "--leaf-list", mode])
    assert result.exit_code == 0, result.output
    bundle = tmp_path / "site" / "snapshots" / "2026-11-24T01-00-00Z"
    names = sorted(p.name for p in bundle.iterdir())
    manifest = json.loads((bundle / "manifest.json").read_text())
    summary = json.loads((tmp_path / "summary.json").read_text())
    key = summary["public_key"]
    verify = ["verify", "bundle", str(bundle), "--public-key", key, "--json"]
    if mode == "auditors":
        assert "liabilities.jsonl.age" in names and "liabilities.jsonl" not in names
        identity = tmp_path / "auditor" / AUDITOR_IDENTITY
        assert manifest["leaf_list"]["mode"] == "auditors" and identity.is_file()
        assert "--identity" in result.output and AUDITOR_IDENTITY in result.output
        checked = CliRunner().invoke(cli, [*verify, "--identity", str(identity)])
        statuses = {c["name"]: c["status"] for c in json.loads(checked.stdout)["checks"]}
        assert checked.exit_code == 0 and statuses["liabilities"] == "pass", checked.output
    else:
        assert not [n for n in names if n.startswith("liabilities")]
        assert manifest["leaf_list"] == {"mode": "none"}
        checked = CliRunner().invoke(cli, verify)
        assert checked.exit_code == 0 and json.loads(checked.stdout)["not_run"] == [
            "liabilities",
            "anchor",
        ]
