"""Solana reserves: native SOL and SPL token balances at one finalized slot.

Solana RPC cannot read a past slot, so the reader reads *now* and records honestly which
slot it read and that slot's time next to the requested snapshot time. To make every
balance come from that one slot, all accounts are fetched in ONE JSON-RPC batch of
`getMultipleAccounts` (<= 100 keys each) at commitment `finalized` with `minContextSlot`;
every response's `context.slot` must be equal, otherwise the batch is retried and, after
the retries, the reading fails. SPL balances are read from the owner's associated token
account (ATA) of the asset's mint; a missing account is a zero balance.

`SolanaRpcReader` speaks HTTP JSON-RPC with solders' typed requests; `LiteSvmReader`
reads an in-process `solders.litesvm.LiteSVM` (the demo's embedded chain).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcContextConfig
from solders.rpc.requests import (
    GetBlockTime,
    GetGenesisHash,
    GetMultipleAccounts,
    GetSlot,
    batch_to_json,
)
from solders.token import ID as TOKEN_PROGRAM_ID
from solders.token.associated import get_associated_token_address
from solders.token.state import TokenAccount

from por.reserves.errors import ReaderError
from por.reserves.reader import snapshot_unix
from por.reserves.values import AssetSpec, Balance, BlockPin, Chain, ReserveReading, Wallet

__all__ = [
    "LITESVM_GENESIS_HASH",
    "MAX_KEYS_PER_REQUEST",
    "AccountData",
    "LiteSvmReader",
    "SolanaRpcReader",
    "balances_from_accounts",
    "reserve_accounts",
]

MAX_KEYS_PER_REQUEST = 100  # getMultipleAccounts limit of the Solana RPC
# LiteSVM has no genesis block; the embedded chain (and its JSON-RPC endpoint) name
# themselves by this fixed hash, so ownership messages still bind a chain identity.
LITESVM_GENESIS_HASH = str(Hash(hashlib.sha256(b"litesvm").digest()))
_TOKEN_ACCOUNT_LEN = 165


class _Retry(Exception):
    """Transient failure or slots that differ: try again."""


@dataclass(frozen=True, slots=True)
class AccountData:
    """The fields of an on-chain account the reader needs."""

    lamports: int
    owner: Pubkey
    data: bytes


@dataclass(frozen=True, slots=True)
class _Key:
    wallet: str
    asset: str
    account: Pubkey
    mint: Pubkey | None  # None for native SOL


def reserve_accounts(wallets: Sequence[Wallet], assets: Mapping[str, AssetSpec]) -> list[_Key]:
    """Which account holds each (wallet, asset): the wallet itself or its ATA."""
    keys: list[_Key] = []
    for wallet in wallets:
        if wallet.chain != "solana":
            raise ReaderError(f"wallet {wallet.address} is on {wallet.chain}, not solana")
        owner = Pubkey.from_string(wallet.address)
        for asset in wallet.assets:
            spec = assets.get(asset)
            if spec is None or spec.chain != "solana":
                raise ReaderError(f"wallet {wallet.address}: asset {asset} is not configured")
            if spec.kind == "native":
                keys.append(_Key(wallet.address, asset, owner, None))
            elif spec.kind == "spl" and spec.contract:
                mint = Pubkey.from_string(spec.contract)
                keys.append(
                    _Key(wallet.address, asset, get_associated_token_address(owner, mint), mint)
                )
            else:
                raise ReaderError(f"asset {asset}: kind {spec.kind} is not readable on solana")
    return keys


def balances_from_accounts(
    keys: Sequence[_Key], accounts: Sequence[AccountData | None], slot: int
) -> tuple[Balance, ...]:
    """Balances from fetched accounts (same order as `keys`); pure, shared by both readers."""
    out = []
    for key, account in zip(keys, accounts, strict=True):
        if account is None:
            amount = 0
        elif key.mint is None:
            amount = account.lamports
        else:
            if account.owner != TOKEN_PROGRAM_ID or len(account.data) != _TOKEN_ACCOUNT_LEN:
                raise ReaderError(
                    f"solana: {key.account} (ATA of {key.wallet} for {key.asset}) is not an SPL "
                    f"token account at slot {slot}"
                )
            token = TokenAccount.from_bytes(account.data)
            if token.mint != key.mint or str(token.owner) != key.wallet:
                raise ReaderError(
                    f"solana: token account {key.account} holds mint {token.mint} for "
                    f"{token.owner}, expected mint {key.mint} for {key.wallet}"
                )
            amount = token.amount
        out.append(Balance(key.wallet, key.asset, amount, str(key.account)))
    return tuple(out)


class SolanaRpcReader:
    """Reads over HTTP JSON-RPC (see the module docstring)."""

    chain: Chain = "solana"

    def __init__(
        self,
        url: str,
        assets: Mapping[str, AssetSpec],
        *,
        retries: int = 3,
        backoff_s: float = 0.2,  # float-ok: seconds of delay, not money
        timeout_s: float = 30.0,  # float-ok: HTTP timeout in seconds
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.assets = dict(assets)
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._chain_id: str | None = None

    def chain_id(self) -> str:
        """`solana:<genesis hash>` of this node (asked once, then kept)."""
        if self._chain_id is None:
            genesis = self._result(self._post(GetGenesisHash(id=0).to_json()), "getGenesisHash")
            if not isinstance(genesis, str) or not 32 <= len(genesis) <= 44:
                raise _Retry(f"getGenesisHash returned {str(genesis)[:80]!r}")
            self._chain_id = f"solana:{genesis}"
        return self._chain_id

    def _post(self, body: str) -> Any:
        try:
            response = httpx.post(
                self.url,
                content=body,
                headers={"content-type": "application/json"},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            return json.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise _Retry(f"solana RPC {self.url}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _result(response: Any, what: str) -> Any:
        if not isinstance(response, dict):
            raise _Retry(f"{what}: malformed response {str(response)[:200]}")
        if "error" in response:
            raise _Retry(f"{what}: node error {response['error']}")
        return response.get("result")

    def read(self, wallets: Sequence[Wallet], at: datetime | None = None) -> ReserveReading:
        """All balances from one finalized slot, or ReaderError after the retries."""
        return self._read(wallets, snapshot_unix(at), 0)

    def read_at(self, wallets: Sequence[Wallet], pin: BlockPin) -> ReserveReading:
        """All balances from one finalized slot at or after `pin`'s (Solana cannot read
        the past: the reading says which slot it is from)."""
        return self._read(wallets, pin.requested_at, pin.number)

    def _read(
        self, wallets: Sequence[Wallet], at_unix: int | None, at_least: int
    ) -> ReserveReading:
        keys = reserve_accounts(wallets, self.assets)
        last = ""
        for attempt in range(1, self.retries + 2):
            try:
                return self._read_once(keys, at_unix, attempt, at_least)
            except _Retry as exc:
                last = str(exc)
                if attempt <= self.retries:
                    self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise ReaderError(
            f"solana: no consistent reading after {_attempts(self.retries + 1)}: {last}"
        )

    def _read_once(
        self, keys: Sequence[_Key], at_unix: int | None, attempt: int, at_least: int = 0
    ) -> ReserveReading:
        chain_id = self.chain_id()
        finalized = RpcContextConfig(commitment=CommitmentLevel.Finalized)
        min_slot = self._result(self._post(GetSlot(finalized, id=0).to_json()), "getSlot")
        if not isinstance(min_slot, int):
            raise _Retry(f"getSlot returned {min_slot!r}")
        min_slot = max(min_slot, at_least)
        config = RpcAccountInfoConfig(
            encoding=UiAccountEncoding.Base64,
            commitment=CommitmentLevel.Finalized,
            min_context_slot=min_slot,
        )
        requests = [
            GetMultipleAccounts(
                [k.account for k in keys[i : i + MAX_KEYS_PER_REQUEST]], config, id=n
            )
            for n, i in enumerate(range(0, len(keys), MAX_KEYS_PER_REQUEST))
        ]
        accounts: list[AccountData | None] = []
        slots: set[int] = set()
        if requests:
            responses = self._post(batch_to_json(requests))
            if not isinstance(responses, list) or len(responses) != len(requests):
                raise _Retry(f"getMultipleAccounts batch: expected {len(requests)} responses")
            by_id = {r.get("id"): r for r in responses if isinstance(r, dict)}
            for n, request in enumerate(requests):
                result = self._result(by_id.get(n), "getMultipleAccounts")
                try:
                    slots.add(int(result["context"]["slot"]))
                    values = result["value"]
                    if len(values) != len(request.accounts):
                        raise _Retry(
                            f"getMultipleAccounts returned {len(values)} accounts, "
                            f"asked {len(request.accounts)}"
                        )
                    accounts.extend(_account(v) for v in values)
                except (KeyError, TypeError, ValueError) as exc:
                    raise _Retry(f"getMultipleAccounts: malformed result: {exc}") from exc
        else:
            slots.add(min_slot)
        if len(slots) != 1:
            raise _Retry(
                f"getMultipleAccounts responses came from different slots {sorted(slots)}: "
                "balances would mix slots"
            )
        slot = slots.pop()
        if slot < min_slot:
            raise _Retry(f"context slot {slot} is below minContextSlot {min_slot}")
        stamp = self._result(self._post(GetBlockTime(slot, id=0).to_json()), "getBlockTime")
        if not isinstance(stamp, int):
            raise _Retry(f"getBlockTime({slot}) returned {stamp!r}")
        pin = BlockPin("solana", slot, "", stamp, requested_at=at_unix, chain_id=chain_id)
        balances = balances_from_accounts(keys, accounts, slot)
        return ReserveReading("solana", pin, balances, "rpc-getMultipleAccounts", attempts=attempt)


def _account(value: Any) -> AccountData | None:
    if value is None:
        return None
    data, encoding = value["data"]
    if encoding != "base64":
        raise ValueError(f"account data encoding {encoding!r}, asked base64")
    return AccountData(
        int(value["lamports"]), Pubkey.from_string(value["owner"]), base64.b64decode(data)
    )


class LiteSvmReader:
    """Reads an in-process LiteSVM: every account from its current (only) slot."""

    chain: Chain = "solana"
    url = "litesvm"

    def __init__(
        self, svm: LiteSVM, assets: Mapping[str, AssetSpec], genesis: str = LITESVM_GENESIS_HASH
    ) -> None:
        self.svm = svm
        self.assets = dict(assets)
        self.genesis = genesis

    def chain_id(self) -> str:
        return f"solana:{self.genesis}"

    def read(self, wallets: Sequence[Wallet], at: datetime | None = None) -> ReserveReading:
        """All balances at the SVM's current slot (single-threaded, so one state)."""
        return self._read(wallets, snapshot_unix(at))

    def read_at(self, wallets: Sequence[Wallet], pin: BlockPin) -> ReserveReading:
        """The SVM's current slot: the only one it has (said in the reading's pin)."""
        return self._read(wallets, pin.requested_at)

    def _read(self, wallets: Sequence[Wallet], at_unix: int | None) -> ReserveReading:
        keys = reserve_accounts(wallets, self.assets)
        clock = self.svm.get_clock()
        get = self.svm.get_account
        accounts: list[AccountData | None] = []
        for key in keys:
            account = get(key.account)
            if account is None or account.lamports == 0:  # LiteSVM's view of "no account"
                accounts.append(None)
            else:
                accounts.append(AccountData(account.lamports, account.owner, bytes(account.data)))
        if self.svm.get_clock().slot != clock.slot:
            raise ReaderError("solana: the LiteSVM slot changed during the read")
        pin = BlockPin(
            "solana",
            clock.slot,
            str(self.svm.latest_blockhash()),
            clock.unix_timestamp,
            at_unix,
            chain_id=self.chain_id(),
        )
        return ReserveReading(
            "solana", pin, balances_from_accounts(keys, accounts, clock.slot), "litesvm"
        )


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"
