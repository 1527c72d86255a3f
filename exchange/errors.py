"""Errors of the exchange package: one root, a short flat hierarchy."""

from __future__ import annotations

__all__ = [
    "CommandLineError",
    "ExchangeError",
    "InvalidCommandError",
    "LedgerBugError",
    "MarketConfigError",
    "Rejected",
    "StoreError",
]


class ExchangeError(Exception):
    """Root of every error raised by `exchange`."""


class InvalidCommandError(ExchangeError):
    """Input is not a valid command (bad JSON, unknown cmd, missing field, float amount).

    Nothing of it is applied and nothing is recorded: it never reached the engine.
    """


class CommandLineError(InvalidCommandError):
    """An invalid command at a known place of a command log: `FILE:LINE: reason`."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class Rejected(ExchangeError):  # noqa: N818 - a rejection is an outcome, not a failure
    """A valid command broke a rule; it changes nothing and is recorded with `reason`.

    `reason` is a code named for the rule that was broken (`amount_must_be_positive`).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class LedgerBugError(ExchangeError):
    """A handler tried something the ledger forbids (unbalanced entry, bucket sign).

    This is a programming error, not a reject: the command is rolled back and the run stops.
    """


class MarketConfigError(ExchangeError):
    """A market definition is inconsistent (e.g. its notionals would not be whole units).

    Raised by `exchange.market.Market`; the `market` command turns it into the reject
    `market_config_invalid`."""


class StoreError(ExchangeError):
    """The database is missing, not migrated, or disagrees with the journal."""
