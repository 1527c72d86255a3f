"""Regressions of issue 18 (reserves inflated with the exchange's own signature, ownership
replayed by another exchange) and issue 17 item 8 (crafted reserves.json crashing the
verifiers), through `por verify bundle` and `por verify reserves` on a real published site.

Each forged bundle is re-signed with the exchange's key (tests/por/audit/forge.py): only the
checks of what the reserves mean can catch it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from solders.account import Account
from solders.pubkey import Pubkey
from solders.token import ID as TOKEN_PROGRAM_ID
from solders.token.state import Mint, TokenAccount, TokenAccountState

from cli.main import cli
from por.chain.ethereum_world import _rpc, connect, deploy_contract, mine, mint_tokens
from por.operator.signing import generate, signing_key_from_hex
from por.reserves.values import iso_utc
from tests.por.audit.forge import rekey_site, resign_bundle
from tests.por.audit.published import Published, published_site
from tests.por.publish.publish_world import KEY_HEX

HOUR = 2  # the last hour: the chains still hold its balances
KEY = signing_key_from_hex(KEY_HEX, "test key")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    with published_site(tmp_path_factory.mktemp("published-attacks")) as site:
        yield site


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", *args])


def errors(stderr: str) -> list[str]:
    """stderr without the notes (which registry or key was trusted)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("note: ")]


def no_crash(result: Result) -> None:
    """Exit 1 or 2 with one line on stderr, never an exception escaping the command."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (1, 2), (result.exit_code, result.stdout, result.stderr)
    assert len(errors(result.stderr)) == 1, result.stderr


def forged(
    published: Published,
    tmp_path: Path,
    mutate: Callable[[dict[str, Any]], None],
    manifest_edit: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle(HOUR).name
    resign_bundle(bundle, KEY, mutate, manifest_edit)
    return bundle


def bundle_result(published: Published, bundle: Path) -> Result:
    return run("bundle", str(bundle), "--public-key", published.public_key)


def reserves_result(published: Published, bundle: Path) -> Result:
    return run(
        "reserves",
        str(bundle),
        "--eth-rpc",
        published.eth_rpc,
        "--sol-rpc",
        published.sol_rpc,
        "--public-key",
        published.public_key,
    )


def reading(reserves: dict[str, Any], chain: str) -> dict[str, Any]:
    return next(r for r in reserves["readings"] if r["chain"] == chain)


def assert_rejected(result: Result, *words: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert len(errors(result.stderr)) == 1, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def test_the_honest_last_hour_passes_both_verifiers(published: Published) -> None:
    bundle = published.bundle(HOUR)
    result = bundle_result(published, bundle)
    assert result.exit_code == 0, result.stderr
    assert "note: no --assets given: trusted the asset registry the manifest signs" in (
        result.stderr
    )
    result = reserves_result(published, bundle)
    assert result.exit_code == 0, result.stderr
    assert errors(result.stderr) == [], result.stderr


def test_one_btc_balance_listed_twice_is_rejected_by_bundle_and_reserves(
    published: Published, tmp_path: Path
) -> None:
    box: dict[str, str] = {}

    def twice(reserves: dict[str, Any]) -> None:
        eth = reading(reserves, "ethereum")
        btc = next(b for b in eth["balances"] if b["asset"] == "BTC" and b["amount"] != "0")
        box["address"] = btc["address"]
        eth["balances"].append(dict(btc))

    bundle = forged(published, tmp_path, twice)
    words = ("BTC", "ethereum", box["address"], "balance_listed_twice")
    assert_rejected(bundle_result(published, bundle), *words)
    assert_rejected(reserves_result(published, bundle), *words)


def test_a_wallets_eth_in_wei_relabelled_as_btc_is_rejected_by_bundle_and_reserves(
    published: Published, tmp_path: Path
) -> None:
    box: dict[str, str] = {}

    def relabel(reserves: dict[str, Any]) -> None:
        eth = reading(reserves, "ethereum")
        wei = next(b for b in eth["balances"] if b["asset"] == "ETH" and b["amount"] != "0")
        box["address"] = wei["address"]
        wei["asset"] = "BTC"  # read from the address itself (native), counted as BTC
        # and the wallet's honest BTC line goes, so the pair is not a duplicate
        eth["balances"] = [
            b
            for b in eth["balances"]
            if not (b["address"] == wei["address"] and b["asset"] == "BTC" and b is not wei)
        ]

    bundle = forged(published, tmp_path, relabel)
    words = ("BTC", "ethereum", box["address"], "account_not_registered_for_asset")
    assert_rejected(bundle_result(published, bundle), *words)
    assert_rejected(reserves_result(published, bundle), *words)


def _fake_token_bundle(
    published: Published, tmp_path: Path, every_btc: bool = False
) -> tuple[Path, str, str]:
    """The exchange mints its own 'BTC' token to a custody wallet and counts it as BTC
    (`every_btc`: every wallet's BTC read from that token, the others holding none)."""
    w3 = connect(published.eth_rpc)
    deployer = w3.eth.accounts[0]
    fake = deploy_contract(w3, "PorToken", "Totally BTC", "WBTC", 8, sender=deployer)
    box: dict[str, str] = {}
    holder = next(
        w.address for w in published.world.reserve.registry.wallets if w.chain == "ethereum"
    )
    mint_tokens(w3, fake, {holder: 21_000_000 * 10**8}, deployer)
    mine(w3, 3)
    block = _rpc(w3, "eth_getBlockByNumber", ["finalized", False])
    pin = {"block": int(block["number"], 16), "hash": block["hash"]}
    pin["time"] = iso_utc(int(block["timestamp"], 16))

    def counted(reserves: dict[str, Any]) -> None:
        eth = reading(reserves, "ethereum")
        eth["pin"].update(pin)
        for btc in eth["balances"]:
            if btc["asset"] == "BTC" and (every_btc or btc["address"] == holder):
                btc["account"] = fake
                btc["amount"] = str(21_000_000 * 10**8 if btc["address"] == holder else 0)
        box["address"] = holder

    def repin(manifest: dict[str, Any]) -> None:
        signed = next(p for p in manifest["reserves"] if p["chain"] == "ethereum")
        signed.update(pin)

    return forged(published, tmp_path, counted, repin), box["address"], fake


def test_a_self_minted_erc20_counted_as_btc_is_rejected_by_bundle_and_reserves(
    published: Published, tmp_path: Path
) -> None:
    bundle, holder, fake = _fake_token_bundle(published, tmp_path)
    words = ("BTC", "ethereum", holder, "account_not_registered_for_asset")
    assert_rejected(bundle_result(published, bundle), *words)
    assert_rejected(reserves_result(published, bundle), *words)


def _fake_mint_account(published: Published, owner: str, amount: int) -> str:
    """A token account of a mint the exchange made up, owned by a custody wallet."""
    svm = published.world.reserve.solana.svm
    mint, account = Pubkey.new_unique(), Pubkey.new_unique()
    authority = Pubkey.new_unique()
    svm.set_account(
        mint, Account(10**7, bytes(Mint(authority, amount, 6, True)), TOKEN_PROGRAM_ID, False, 0)
    )
    token = TokenAccount(
        mint, Pubkey.from_string(owner), amount, None, TokenAccountState.Initialized, None, 0
    )
    svm.set_account(account, Account(10**7, bytes(token), TOKEN_PROGRAM_ID, False, 0))
    return str(account)


def test_an_spl_account_of_a_fake_mint_counted_as_usdc_is_rejected_by_bundle_and_reserves(
    published: Published, tmp_path: Path
) -> None:
    owner = next(w.address for w in published.world.reserve.registry.wallets if w.chain == "solana")
    account = _fake_mint_account(published, owner, 10**15)

    def counted(reserves: dict[str, Any]) -> None:
        sol = reading(reserves, "solana")
        usdc = next(b for b in sol["balances"] if b["address"] == owner and b["asset"] == "USDC")
        usdc["account"] = account
        usdc["amount"] = str(10**15)

    bundle = forged(published, tmp_path, counted)
    words = ("USDC", "solana", owner, "account_not_registered_for_asset")
    assert_rejected(bundle_result(published, bundle), *words)
    assert_rejected(reserves_result(published, bundle), *words)


def test_exchange_b_reusing_a_reserves_json_byte_for_byte_fails_under_its_own_key(
    published: Published, tmp_path: Path
) -> None:
    site_b = published.copy(tmp_path / "site-b")
    key_b = generate()
    rekey_site(site_b, key_b, published.public_key)
    bundle = site_b / "snapshots" / published.bundle(0).name
    assert (bundle / "reserves.json").read_bytes() == (
        published.bundle(0) / "reserves.json"
    ).read_bytes()
    result = run("bundle", str(bundle), "--public-key", key_b.public_key_hex)
    assert_rejected(result, "reserves (", "exchange key", key_b.public_key_hex[:16])


# -- issue 17 item 8: crafted reserves.json must not crash the verifiers --------------------


def _crafted(published: Published, tmp_path: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    site = published.copy(tmp_path / "site")
    bundle = site / "snapshots" / published.bundle(HOUR).name
    data = json.loads((bundle / "reserves.json").read_text())
    data = edit(data) or data
    (bundle / "reserves.json").write_text(json.dumps(data))
    return bundle


def _five_thousand_digits(data: dict[str, Any]) -> None:
    reading(data, "ethereum")["balances"][0]["amount"] = "1" * 5000


def _ownership_address_xyz(data: dict[str, Any]) -> None:
    data["ownership"][0]["address"] = "xyz"


def _balance_address_list(data: dict[str, Any]) -> None:
    reading(data, "ethereum")["balances"][0]["address"] = ["0x00"]


CRAFTED = {
    "readings_of_strings": lambda data: {**data, "readings": ["x"]},
    "five_thousand_digit_amount": _five_thousand_digits,
    "ownership_address_xyz": _ownership_address_xyz,
    "balance_address_a_list": _balance_address_list,
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
@pytest.mark.parametrize("signed", [False, True], ids=["digest-fails", "re-signed"])
def test_crafted_reserves_exit_one_or_two_with_one_line(
    published: Published, tmp_path: Path, case: str, signed: bool
) -> None:
    edit = CRAFTED[case]
    if signed:
        site = published.copy(tmp_path / "site")
        bundle = site / "snapshots" / published.bundle(HOUR).name

        def mutate(data: dict[str, Any]) -> None:
            replaced = edit(data)
            if replaced is not None:
                data.clear()
                data.update(replaced)

        resign_bundle(bundle, KEY, mutate, recompute=False)
    else:
        bundle = _crafted(published, tmp_path, edit)
    no_crash(reserves_result(published, bundle))
    no_crash(bundle_result(published, bundle))


# -- the auditor's pinned registry -----------------------------------------------------------


def test_a_self_minted_token_the_exchange_signs_into_its_registry_fails_the_pinned_registry(
    published: Published, tmp_path: Path
) -> None:
    """The exchange names its own token as BTC in the registry it signs: only an auditor who
    pins the well-known contracts (--assets) catches it; without, stderr shows the contract."""
    bundle, holder, fake = _fake_token_bundle(published, tmp_path, every_btc=True)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["reserve_assets"]["ethereum"]["BTC"]["contract"] = fake
    resign_bundle(bundle, KEY, lambda _r: None, lambda m: m.update(manifest))
    trusted = bundle_result(published, bundle)
    assert trusted.exit_code == 0, trusted.stderr
    assert f"BTC on ethereum = erc20 {fake}" in trusted.stderr
    pinned = str(published.world.reserve.wallets_path)  # the well-known contracts
    result = run("bundle", str(bundle), "--public-key", published.public_key, "--assets", pinned)
    assert_rejected(result, "registry_differs_from_pinned", "BTC on ethereum", fake)
    result = run(
        "reserves",
        str(bundle),
        "--eth-rpc",
        published.eth_rpc,
        "--public-key",
        published.public_key,
        "--assets",
        pinned,
    )
    assert_rejected(result, "registry_differs_from_pinned", fake)


def test_an_unreadable_pinned_registry_exits_two(published: Published, tmp_path: Path) -> None:
    (tmp_path / "assets.json").write_text('{"assets": {"ethereum": {"BTC": {"kind": "x"}}}}')
    for command in ("bundle", "reserves"):
        result = run(
            command,
            str(published.bundle(HOUR)),
            "--public-key",
            published.public_key,
            "--eth-rpc",
            published.eth_rpc,
            "--assets",
            str(tmp_path / "assets.json"),
        )
        assert result.exit_code == 2, (command, result.stderr)
        assert "kind 'x' is not one of" in result.stderr


def test_an_associated_account_holding_another_mint_fails_the_re_read(
    published: Published,
) -> None:
    """On a real chain an ATA holds its own mint; a lying node (here: a changed account)
    may not: the re-read checks every SPL account's mint, not just its owner."""
    svm = published.world.reserve.solana.svm
    registry = published.world.reserve.registry
    owner = next(w.address for w in registry.wallets if w.chain == "solana")
    sol = json.loads((published.bundle(HOUR) / "reserves.json").read_text())
    ata = next(
        b["account"]
        for b in reading(sol, "solana")["balances"]
        if b["address"] == owner and b["asset"] == "USDC"
    )
    key = Pubkey.from_string(ata)
    before = svm.get_account(key)
    assert before is not None
    token = TokenAccount.from_bytes(bytes(before.data))
    other = TokenAccount(
        Pubkey.new_unique(), token.owner, token.amount, None, TokenAccountState.Initialized, None, 0
    )
    svm.set_account(key, Account(before.lamports, bytes(other), TOKEN_PROGRAM_ID, False, 0))
    try:
        result = run(
            "reserves", str(published.bundle(HOUR)), "--sol-rpc", published.sol_rpc,
            "--public-key", published.public_key,
        )  # fmt: skip
        assert_rejected(result, "spl_mint_mismatch", "USDC on solana", owner)
    finally:
        svm.set_account(key, before)
