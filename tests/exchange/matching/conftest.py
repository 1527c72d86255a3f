"""Fixtures for matching tests (helpers live in matching_venue.py).

The suite runs in pytest's importlib mode, which puts no test folder on sys.path; this
folder is added so the test modules can import their helper module by its unique name.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matching_venue import Venue  # noqa: E402


@pytest.fixture
def venue() -> Venue:
    return Venue()
