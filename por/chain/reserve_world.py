"""A complete, funded reserve world for the demo and end-to-end tests.

One call gives: custody keys in a key store (mode 0600), wallets funded on Anvil (ETH,
USDC, wrapped BTC) and in LiteSVM (SOL, USDC), the wallet registry written as JSON, and
the readers for both chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from por.chain.ethereum_world import (
    EthereumWorld,
    connect,
    deploy_world,
    mine,
    mint_tokens,
    set_eth_balances,
)
from por.chain.solana_world import SolanaWorld, create_solana_world, fund_sol, fund_usdc
from por.reserves.ethereum import EthereumReader
from por.reserves.keystore import FileKeyStore, generate_keystore
from por.reserves.reader import ReserveReader
from por.reserves.solana import LiteSvmReader
from por.reserves.values import Chain, Wallet
from por.reserves.wallets import WalletRegistry, write_wallets

__all__ = ["ReserveWorld", "build_reserve_world", "split"]


@dataclass(frozen=True, slots=True)
class ReserveWorld:
    """Everything the snapshot needs to read and prove reserves."""

    registry: WalletRegistry
    wallets_path: Path
    keystore: FileKeyStore
    ethereum: EthereumWorld
    solana: SolanaWorld

    def readers(self) -> dict[Chain, ReserveReader]:
        """An Anvil RPC reader and an embedded LiteSVM reader."""
        eth = EthereumReader(self.ethereum.url, self.registry.assets_on("ethereum"))
        sol = LiteSvmReader(self.solana.svm, self.registry.assets_on("solana"))
        return {"ethereum": eth, "solana": sol}


def split(total: int, parts: int) -> list[int]:
    """`total` in `parts` integer shares that add up exactly (earlier shares get the rest)."""
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def build_reserve_world(
    anvil_url: str,
    out_dir: str | Path,
    *,
    exchange: str,
    holdings: Mapping[tuple[Chain, str], int],
    wallets_per_chain: int = 2,
    solana_slot: int = 1_000,
    solana_time: int = 1_795_276_800,
) -> ReserveWorld:
    """Fund `holdings[(chain, asset)]` (smallest units) across fresh custody wallets.

    Ethereum assets: ETH, USDC, BTC (wrapped); Solana assets: SOL, USDC. The first wallet
    of each chain is "hot", the others "cold". Writes `wallets.json` and `keys.json`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keystore, eth_addresses, sol_addresses = generate_keystore(
        out / "keys.json", ethereum=wallets_per_chain, solana=wallets_per_chain
    )
    eth_world = deploy_world(anvil_url)
    sol_world = create_solana_world(slot=solana_slot, unix_timestamp=solana_time)
    w3 = connect(anvil_url)

    def shares(chain: Chain, asset: str, addresses: list[str]) -> dict[str, int]:
        return dict(
            zip(addresses, split(holdings.get((chain, asset), 0), len(addresses)), strict=True)
        )

    set_eth_balances(w3, shares("ethereum", "ETH", eth_addresses))
    mint_tokens(w3, eth_world.usdc, shares("ethereum", "USDC", eth_addresses), eth_world.deployer)
    mint_tokens(w3, eth_world.wbtc, shares("ethereum", "BTC", eth_addresses), eth_world.deployer)
    mine(w3, 3)  # past Anvil's finality lag
    fund_sol(sol_world.svm, shares("solana", "SOL", sol_addresses))
    fund_usdc(sol_world, shares("solana", "USDC", sol_addresses))

    wallets = [
        Wallet("ethereum", a, ("ETH", "USDC", "BTC"), "hot" if i == 0 else "cold")
        for i, a in enumerate(eth_addresses)
    ] + [
        Wallet("solana", a, ("SOL", "USDC"), "hot" if i == 0 else "cold")
        for i, a in enumerate(sol_addresses)
    ]
    registry = WalletRegistry(
        exchange,
        {"ethereum": eth_world.asset_specs(), "solana": sol_world.asset_specs()},
        tuple(wallets),
    )
    path = write_wallets(out / "wallets.json", registry)
    return ReserveWorld(registry, path, keystore, eth_world, sol_world)
