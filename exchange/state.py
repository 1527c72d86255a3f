"""The in-memory ledger state: plain dicts, rebuilt from the journal on start."""

from __future__ import annotations

from typing import Any

from exchange.model import SYSTEM_ACCOUNTS, Asset

__all__ = ["LedgerState", "BalanceKey"]

BalanceKey = tuple[str, str, str]
"""(account, asset, bucket)"""


class LedgerState:
    """Everything the engine knows. Balances are derived only from postings.

    `ext[name]` holds each module's own state (order books, pools), made by the factories
    modules register, and rebuilt by their replay hooks.
    """

    __slots__ = ("accounts", "assets", "balances", "ext", "seq", "time")

    def __init__(self, factories: dict[str, Any] | None = None) -> None:
        self.assets: dict[str, Asset] = {}
        self.accounts: dict[str, str] = {a: "system" for a in SYSTEM_ACCOUNTS}
        self.balances: dict[BalanceKey, int] = {}
        self.seq = 0
        self.time: int | None = None
        self.ext: dict[str, Any] = {name: make() for name, make in (factories or {}).items()}

    def balance(self, account: str, asset: str, bucket: str = "available") -> int:
        return self.balances.get((account, asset, bucket), 0)

    def account_balances(self, account: str) -> dict[str, dict[str, int]]:
        """asset -> bucket -> amount (non-zero only) of one account."""
        out: dict[str, dict[str, int]] = {}
        for (acc, asset, bucket), amount in self.balances.items():
            if acc == account and amount:
                out.setdefault(asset, {})[bucket] = amount
        return out
