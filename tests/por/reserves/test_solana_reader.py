"""Solana readers: the RPC reader over a real HTTP JSON-RPC endpoint backed by LiteSVM."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token import ID as TOKEN_PROGRAM_ID
from solders.token.associated import get_associated_token_address
from solders.token.state import TokenAccount, TokenAccountState

from por.chain.litesvm_rpc import LiteSvmRpcServer
from por.chain.solana_world import SolanaWorld, create_solana_world, fund_sol, fund_usdc, set_clock
from por.reserves.errors import ReaderError
from por.reserves.solana import LiteSvmReader, SolanaRpcReader
from por.reserves.values import Wallet

HOUR = 1_795_276_800  # 2026-11-24T16:00:00Z


def _world(count: int) -> tuple[SolanaWorld, list[Wallet], dict[tuple[str, str], int]]:
    world = create_solana_world(slot=5_000, unix_timestamp=HOUR + 12)
    owners = [str(Keypair().pubkey()) for _ in range(count)]
    sol = {o: 2_000_000_000 + i for i, o in enumerate(owners)}
    usdc = {o: 0 if i % 4 == 0 else 1_000_000 * i for i, o in enumerate(owners)}
    fund_sol(world.svm, sol)
    fund_usdc(world, {o: v for o, v in usdc.items() if v})  # some wallets have no token account
    wallets = [Wallet("solana", o, ("SOL", "USDC"), "hot") for o in owners]
    expected = {(o, "SOL"): sol[o] for o in owners} | {(o, "USDC"): usdc[o] for o in owners}
    return world, wallets, expected


def test_rpc_reader_returns_sol_and_usdc_balances_and_the_slot_with_its_time() -> None:
    world, wallets, expected = _world(130)  # 260 accounts: three getMultipleAccounts requests
    with LiteSvmRpcServer(world.svm) as server:
        at = datetime.fromtimestamp(HOUR, UTC)
        reading = SolanaRpcReader(server.url, world.asset_specs()).read(wallets, at=at)
        assert server.calls["getMultipleAccounts"] == 3, "expected one batch of 3 requests"
    assert reading.by_key() == expected
    assert reading.pin.number == 5_000
    assert reading.pin.time == HOUR + 12, "the slot's own time, recorded honestly"
    assert reading.pin.requested_at == HOUR
    assert reading.pin.to_dict()["slot"] == 5_000
    usdc_account = reading.balances[3].account
    owner = Pubkey.from_string(wallets[1].address)
    assert usdc_account == str(get_associated_token_address(owner, world.usdc_mint))


def test_rpc_reader_and_embedded_litesvm_reader_agree() -> None:
    world, wallets, expected = _world(20)
    embedded = LiteSvmReader(world.svm, world.asset_specs()).read(wallets)
    with LiteSvmRpcServer(world.svm) as server:
        over_rpc = SolanaRpcReader(server.url, world.asset_specs()).read(wallets)
    assert embedded.by_key() == over_rpc.by_key() == expected
    assert embedded.pin.number == over_rpc.pin.number
    assert embedded.method == "litesvm" and over_rpc.method == "rpc-getMultipleAccounts"


def test_mismatched_context_slots_are_retried_then_the_reading_succeeds() -> None:
    world, wallets, expected = _world(120)
    advances = {"left": 2}

    def advance_slot_mid_batch(method: str) -> None:
        if method == "getMultipleAccounts" and advances["left"]:
            advances["left"] -= 1
            clock = world.svm.get_clock()
            set_clock(world.svm, clock.slot + 1, clock.unix_timestamp + 1)

    with LiteSvmRpcServer(world.svm, before_call=advance_slot_mid_batch) as server:
        reading = SolanaRpcReader(server.url, world.asset_specs(), sleep=lambda _s: None).read(
            wallets
        )
    assert reading.attempts == 2
    assert reading.by_key() == expected
    assert reading.pin.number == 5_002


def test_context_slots_that_never_agree_fail_the_reading() -> None:
    world, wallets, _ = _world(120)

    def always_advance(method: str) -> None:
        if method == "getMultipleAccounts":
            clock = world.svm.get_clock()
            set_clock(world.svm, clock.slot + 1, clock.unix_timestamp)

    sleeps: list[float] = []
    with LiteSvmRpcServer(world.svm, before_call=always_advance) as server:
        reader = SolanaRpcReader(server.url, world.asset_specs(), retries=2, sleep=sleeps.append)
        with pytest.raises(ReaderError, match=r"after 3 attempts: .*different slots"):
            reader.read(wallets)
    assert sleeps == [0.2, 0.4]


def test_an_unreachable_solana_node_fails_with_a_clear_reason() -> None:
    world, wallets, _ = _world(2)
    reader = SolanaRpcReader("http://127.0.0.1:9", world.asset_specs(), retries=0)
    with pytest.raises(
        ReaderError, match=r"solana: no consistent reading after 1 attempt: .*ConnectError"
    ):
        reader.read(wallets)


def test_a_token_account_of_another_mint_at_the_ata_address_is_refused() -> None:
    world, wallets, _ = _world(2)
    owner = Pubkey.from_string(wallets[1].address)
    ata = get_associated_token_address(owner, world.usdc_mint)
    other = TokenAccount(
        Pubkey.new_unique(), owner, 5, None, TokenAccountState.Initialized, None, 0
    )
    world.svm.set_account(ata, Account(2_039_280, bytes(other), TOKEN_PROGRAM_ID, False, 0))
    with pytest.raises(ReaderError, match="holds mint .* expected mint"):
        LiteSvmReader(world.svm, world.asset_specs()).read(wallets)


def test_a_wallet_of_another_chain_is_refused() -> None:
    world, _, _ = _world(1)
    wrong = [Wallet("ethereum", "0x" + "11" * 20, ("ETH",), "hot")]
    with pytest.raises(ReaderError, match="is on ethereum, not solana"):
        LiteSvmReader(world.svm, world.asset_specs()).read(wrong)
