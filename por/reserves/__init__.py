"""Reserves: the wallet registry, chain readers pinned to one block/slot, ownership proofs.

Readers sit at the edge (RPC, LiteSVM); the values they return (`ReserveReading`) and the
ownership verifier are plain and pure.
"""

from por.reserves.errors import (
    KeyStoreError,
    OwnershipError,
    ReaderError,
    ReservesError,
    WalletFileError,
)
from por.reserves.reader import ReserveReader
from por.reserves.values import AssetSpec, Balance, BlockPin, Chain, ReserveReading, Wallet
from por.reserves.wallets import WalletRegistry, load_wallets

__all__ = [
    "AssetSpec",
    "Balance",
    "BlockPin",
    "Chain",
    "KeyStoreError",
    "OwnershipError",
    "ReaderError",
    "ReserveReader",
    "ReserveReading",
    "ReservesError",
    "Wallet",
    "WalletFileError",
    "WalletRegistry",
    "load_wallets",
]
