"""verify bundle parses the bytes it hashed (issue 17, item 12): a file swapped after the
files check (same meaning, other bytes) fails where it is read, never passes unhashed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import por.audit.bundle as bundle_module
from por.audit.bundle import verify_bundle_dir
from tests.por.audit.published import Published


def _swap_after_files_check(monkeypatch: pytest.MonkeyPatch, name: str, change: Any) -> None:
    checked = bundle_module._check_files

    def then_swap(directory: Path, *args: Any, **kwargs: Any) -> str:
        detail: str = checked(directory, *args, **kwargs)
        path = directory / name
        path.write_bytes(change(path.read_bytes()))
        return detail

    monkeypatch.setattr(bundle_module, "_check_files", then_swap)


def _reindented(data: bytes) -> bytes:
    return json.dumps(json.loads(data), indent=1).encode()


@pytest.mark.parametrize(
    ("name", "check"),
    [("reconciliation.json", "reconciliation"), ("reserves.json", "reserves")],
)
def test_a_json_file_swapped_after_the_files_check_fails_where_it_is_read(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, check: str
) -> None:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle().name
    _swap_after_files_check(monkeypatch, name, _reindented)
    report = verify_bundle_dir(bundle, bytes.fromhex(published.public_key))
    detail = {c.name: (c.status, c.detail) for c in report.checks}
    assert detail["files"][0] == "pass"
    assert detail[check][0] == "fail", detail
    assert f"{name}: changed after its digest was checked" in detail[check][1]


def test_a_leaf_list_swapped_after_the_files_check_fails_where_it_is_folded(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle().name
    _swap_after_files_check(monkeypatch, "liabilities.jsonl", lambda data: data.rstrip(b"\n"))
    report = verify_bundle_dir(bundle, bytes.fromhex(published.public_key))
    detail = {c.name: (c.status, c.detail) for c in report.checks}
    assert detail["liabilities"][0] == "fail", detail
    assert "liabilities.jsonl: changed after its digest was checked" in detail["liabilities"][1]
