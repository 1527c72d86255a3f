"""The committed artifacts match the committed sources, compiled by npm solc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from por.reserves.contracts import ARTIFACT_NAMES, load_artifact

REPO = Path(__file__).resolve().parents[3]


def test_every_artifact_has_abi_and_bytecode_from_solc() -> None:
    for name in ARTIFACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.abi, f"{name} has no ABI"
        assert artifact.bytecode.startswith("0x60") and artifact.deployed_bytecode.startswith(
            "0x60"
        )
        assert artifact.compiler_version.startswith("0.8.37"), artifact.compiler_version


def test_committed_artifacts_are_up_to_date_with_the_sources() -> None:
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "solc").is_dir():
        pytest.skip("node or npm solc not installed (run scripts/setup)")
    result = subprocess.run(
        [node, str(REPO / "scripts" / "compile-contracts.mjs"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"stale artifacts; run node scripts/compile-contracts.mjs\n{result.stderr}"
    )
