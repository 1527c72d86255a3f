"""The committed copy of the shared vectors must not drift from the normative folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

COPY = Path(__file__).parent / "vectors"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def test_committed_vector_copy_equals_every_shared_vector_file() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the suite runs on the committed copy")
    shared = sorted(SHARED.glob("*.json"))
    assert shared, f"no vector files in {SHARED}"
    for path in shared:
        copy = COPY / path.name
        assert copy.is_file(), f"{path.name} is not copied into tests/vectors"
        assert copy.read_bytes() == path.read_bytes(), f"tests/vectors/{path.name} differs"


def test_suite_reads_the_vectors_from_a_folder_that_has_them() -> None:
    folder = Path(os.environ.get("POR_SHARED_VECTORS", SHARED))
    assert sorted(folder.glob("*.json")), f"no vector files in {folder}"
