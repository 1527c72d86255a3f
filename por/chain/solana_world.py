"""A funded Solana world in LiteSVM: a USDC mint, SOL and USDC balances, a clock.

Reused by the tests, `por demo` and the benchmarks. Accounts are written with
`set_account` in their exact on-chain layout (system-owned lamports; SPL Mint and
TokenAccount bytes owned by the Token program at the owner's associated token address),
so the readers decode real account data; 10,000 wallets take milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from solders.account import Account
from solders.clock import Clock
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.token import ID as TOKEN_PROGRAM_ID
from solders.token.associated import get_associated_token_address
from solders.token.state import Mint, TokenAccount, TokenAccountState

from por.chain.errors import ChainError
from por.reserves.values import AssetSpec

__all__ = [
    "SolanaWorld",
    "create_solana_world",
    "fund_sol",
    "fund_usdc",
    "set_clock",
]

_MINT_LEN = 82
_TOKEN_ACCOUNT_LEN = 165


@dataclass(frozen=True, slots=True)
class SolanaWorld:
    """A LiteSVM instance and the USDC mint created in it."""

    svm: LiteSVM
    usdc_mint: Pubkey
    mint_authority: Keypair

    def asset_specs(self) -> dict[str, AssetSpec]:
        """The reserve assets of this world, as a wallet registry would declare them."""
        return {
            "SOL": AssetSpec("SOL", "solana", "native", 9),
            "USDC": AssetSpec(
                "USDC", "solana", "spl", 6, str(self.usdc_mint), "USD Coin (SPL, demo)"
            ),
        }


def set_clock(svm: LiteSVM, slot: int, unix_timestamp: int) -> None:
    """Move the SVM to `slot` at `unix_timestamp` (the slot the readers will report)."""
    svm.set_clock(Clock(slot, unix_timestamp, 0, 0, unix_timestamp))


def create_solana_world(
    *, slot: int = 1_000, unix_timestamp: int = 1_795_276_800, mint: Pubkey | None = None
) -> SolanaWorld:
    """A fresh LiteSVM with a 6-decimal USDC mint."""
    svm = LiteSVM()
    set_clock(svm, slot, unix_timestamp)
    authority = Keypair()
    mint_key = mint or Pubkey.new_unique()
    data = bytes(Mint(authority.pubkey(), 0, 6, True))
    rent = svm.minimum_balance_for_rent_exemption(_MINT_LEN)
    svm.set_account(mint_key, Account(rent, data, TOKEN_PROGRAM_ID, False, 0))
    return SolanaWorld(svm, mint_key, authority)


def fund_sol(svm: LiteSVM, balances: Mapping[str, int]) -> None:
    """Set the lamports of system-owned wallets."""
    for address, lamports in balances.items():
        svm.set_account(
            Pubkey.from_string(address), Account(lamports, b"", SYSTEM_PROGRAM_ID, False, 0)
        )


def fund_usdc(world: SolanaWorld, balances: Mapping[str, int]) -> None:
    """Give each owner an associated token account with the amount; keeps the supply right."""
    svm = world.svm
    rent = svm.minimum_balance_for_rent_exemption(_TOKEN_ACCOUNT_LEN)
    added = 0
    for address, amount in balances.items():
        owner = Pubkey.from_string(address)
        ata = get_associated_token_address(owner, world.usdc_mint)
        previous = svm.get_account(ata)
        if previous is not None and previous.lamports:
            added -= TokenAccount.from_bytes(bytes(previous.data)).amount
        token = TokenAccount(
            world.usdc_mint, owner, amount, None, TokenAccountState.Initialized, None, 0
        )
        svm.set_account(ata, Account(rent, bytes(token), TOKEN_PROGRAM_ID, False, 0))
        added += amount
    current = svm.get_account(world.usdc_mint)
    if current is None:
        raise ChainError(f"USDC mint {world.usdc_mint} is missing from the SVM")
    mint = Mint.from_bytes(bytes(current.data))
    updated = Mint(
        mint.mint_authority, mint.supply + added, mint.decimals, True, mint.freeze_authority
    )
    svm.set_account(
        world.usdc_mint, Account(current.lamports, bytes(updated), TOKEN_PROGRAM_ID, False, 0)
    )
