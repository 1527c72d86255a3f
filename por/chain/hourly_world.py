"""The embedded chains of `por demo`, moved hour by hour to the balances of a sample day.

Anvil (ETH, USDC and wrapped BTC as ERC-20 tokens) and LiteSVM (SOL, USDC), the
exchange's wallets on them, and the per-hour moves: what arrived is minted, what left is
a real ERC-20 transfer out, native balances are set; each hour is closed by a block just
before and blocks past its boundary so that the hour's block is finalized.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from por.chain.ethereum_world import (
    connect,
    deploy_world,
    mine,
    mine_at,
    mint_tokens,
    set_eth_balances,
    transfer_tokens,
)
from por.chain.solana_world import create_solana_world, fund_sol, fund_usdc, set_clock
from por.reserves.keystore import FileKeyStore
from por.reserves.reader import ReserveReader
from por.reserves.values import Wallet
from por.reserves.wallets import WalletRegistry

__all__ = ["SINK", "HourlyWorld"]

SINK = "0x000000000000000000000000000000000000dEaD"  # where paid-out / moved tokens go

Holding = tuple[str, str, str]  # (chain, address, asset)


class HourlyWorld:
    """The embedded chains and the exchange's wallets on them; sets balances per hour."""

    def __init__(
        self,
        anvil_url: str,
        keys_path: Path,
        wallets: Sequence[Mapping[str, Any]],
        exchange: str,
        solana_time: int,
    ) -> None:
        self.w3 = connect(anvil_url)
        self.eth = deploy_world(anvil_url)
        self.sol = create_solana_world(slot=1_000, unix_timestamp=solana_time)
        mine(self.w3, 3)
        self.keystore = FileKeyStore(keys_path)
        self.registry = WalletRegistry(
            exchange,
            {"ethereum": self.eth.asset_specs(), "solana": self.sol.asset_specs()},
            tuple(
                Wallet(w["chain"], w["address"], tuple(w["assets"]), w["role"], w["label"])
                for w in wallets
            ),
        )
        self.held: dict[Holding, int] = {}

    def readers(self) -> dict[str, ReserveReader]:
        from por.reserves.ethereum import EthereumReader
        from por.reserves.solana import LiteSvmReader

        return {
            "ethereum": EthereumReader(self.eth.url, self.registry.assets_on("ethereum")),
            "solana": LiteSvmReader(self.sol.svm, self.registry.assets_on("solana")),
        }

    def _token(self, asset: str) -> str:
        return self.eth.usdc if asset == "USDC" else self.eth.wbtc

    def set_balances(self, targets: Mapping[Holding, int]) -> None:
        """Move every wallet to its target: mint what arrived (deposits), transfer out what
        left (payouts, to `SINK`), native balances set directly."""
        mints: dict[str, dict[str, int]] = {}
        eth: dict[str, int] = {}
        sol: dict[str, int] = {}
        usdc: dict[str, int] = {}
        for (chain, address, asset), want in sorted(targets.items()):
            have = self.held.get((chain, address, asset), 0)
            if chain == "ethereum" and asset in ("USDC", "BTC"):
                if want > have:
                    mints.setdefault(self._token(asset), {})[address] = want - have
                elif want < have:
                    transfer_tokens(self.w3, self._token(asset), address, SINK, have - want)
            elif chain == "ethereum":
                eth[address] = want
            elif asset == "SOL":
                sol[address] = want
            else:
                usdc[address] = want
            self.held[(chain, address, asset)] = want
        for token, amounts in mints.items():
            mint_tokens(self.w3, token, amounts, self.eth.deployer)
        if eth:  # after the transfers: their gas must not change the reserves
            set_eth_balances(self.w3, eth)
        if sol:
            fund_sol(self.sol.svm, sol)
        if usdc:
            fund_usdc(self.sol, usdc)

    def close_hour(self, boundary: datetime, apply_clock: Callable[[], None], slot: int) -> None:
        """Mine the hour's last block before HH:00, let the ledger reach HH:00, then mine
        past it so that block is finalized (Anvil: finalized = head - 2); Solana's slot and
        time move to just after the hour."""
        at = int(boundary.timestamp())
        mine_at(self.w3, at - 30)
        apply_clock()
        mine_at(self.w3, at + 12)
        mine(self.w3, 2)
        set_clock(self.sol.svm, slot, at + 2)
