"""A factory of fresh invariant-checked exchanges (for Hypothesis: one per example)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.exchange.conftest import CheckedExchange


@pytest.fixture
def ledger_factory() -> Callable[[], CheckedExchange]:
    return CheckedExchange
