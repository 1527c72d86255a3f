"""Fixtures for liquidation tests (helpers live in liquidation_world.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from liquidation_world import World  # noqa: E402


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def world_spot() -> World:
    return World(spot=True)
