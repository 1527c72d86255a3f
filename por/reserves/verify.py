"""The pure check of a published `reserves.json` against what the verifier pins.

A parsed document in, a `CheckedReserves` (typed balances, ready to re-read from a node)
out, or one ReservesError naming what is wrong. What it checks, in order:

- shape: `por-reserves/1`, the exchange's name, `wallets`, `readings`, `ownership`,
  `totals`; every amount a canonical decimal string below 2^256 (never parsed beyond
  78 digits), every address canonical for its chain;
- readings: one per chain, its pin (block or slot, hash, chain id) equal to the one the
  manifest signs;
- every balance against the asset registry (`por.reserves.registry`), with a reject code
  (AssetRuleError): `address_not_in_wallet_list`, `asset_not_listed_for_wallet`,
  `balance_listed_twice`, `asset_not_registered`, `account_not_registered_for_asset`,
  `asset_not_in_manifest`, `decimals_differ_from_manifest`;
- ownership: exactly one proof per wallet, each bound to the pinned exchange key and the
  reading's chain id (`por.reserves.ownership`), its signature valid; a per-snapshot proof
  bound to this snapshot, a per-period one (cold wallets) judged by the attestation policy
  (`por.reserves.attestation`: its window covers this hour, its block is of its period,
  it is not older than the role's maximum age; AttestationRuleError naming the rule);
- totals: the sum of the balances per asset, exactly (the file's, and each reading's own);
- text: every string and key has a UTF-8 form (a lone surrogate escape has none and could
  be neither signed nor compared: refused, never a crash).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from por._input import has_lone_surrogate
from por.reserves.attestation import (
    DEFAULT_POLICY,
    AttestationPolicy,
    check_attestation,
    parse_iso_utc,
)
from por.reserves.errors import AssetRuleError, OwnershipError, ReservesError
from por.reserves.ownership import Binding, OwnershipProof, verify_ownership
from por.reserves.registry import AssetRegistry, expected_account
from por.reserves.values import CHAINS, ROLES, Balance, Chain, Wallet
from por.reserves.wallets import MAX_WALLETS, normalize_address

__all__ = [
    "MAX_AMOUNT_DIGITS",
    "REPORT_FORMAT",
    "CheckedReading",
    "CheckedReserves",
    "check_published_reserves",
    "check_reserve_balances",
    "parse_amount",
]

REPORT_FORMAT = "por-reserves/1"
MAX_AMOUNT_DIGITS = 78  # 2^256 - 1 has 78 digits: a uint256 token balance
MAX_BALANCES = 4 * MAX_WALLETS


@dataclass(frozen=True, slots=True)
class CheckedReading:
    """One chain's balances as published, every one checked against the registry."""

    chain: Chain
    number: int  # block (Ethereum) or slot (Solana)
    hash: str
    chain_id: str
    balances: tuple[Balance, ...]


@dataclass(frozen=True, slots=True)
class CheckedReserves:
    exchange: str
    wallets: tuple[Wallet, ...]
    readings: tuple[CheckedReading, ...]
    totals: Mapping[str, int]
    proofs: int


def _fail(message: str) -> ReservesError:
    return ReservesError(f"reserves.json: {message}")


def parse_amount(value: object, where: str) -> int:
    """A canonical decimal string below 2^256 (the length is checked before int())."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_AMOUNT_DIGITS
        or not value.isascii()
        or not value.isdigit()
    ):
        shown = value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value
        raise _fail(f"{where}: expected a decimal string of at most 78 digits, got {shown!r}")
    if len(value) > 1 and value[0] == "0":
        raise _fail(f"{where}: leading zero in {value!r}")
    amount = int(value)
    if amount >= 1 << 256:
        raise _fail(f"{where}: {value} is not below 2^256")
    return amount


def _reading_totals(raw: object, chain: str, balances: list[Balance]) -> None:
    """A reading's own `totals` are the sums of its balances per asset (never trusted)."""
    own: dict[str, int] = {}
    for balance in balances:
        own[balance.asset] = own.get(balance.asset, 0) + balance.amount
    if not isinstance(raw, dict):
        raise _fail(f"{chain}: totals: expected an object")
    stated = {str(k): parse_amount(v, f"{chain} totals.{k}") for k, v in raw.items()}
    if stated != own:
        raise _fail(f"{chain}: totals {stated} differ from the sum of its balances {own}")


def _text(value: object, where: str, limit: int = 256) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _fail(f"{where}: expected a non-empty string of at most {limit} characters")
    return value


def _address(chain: str, value: object, where: str) -> str:
    try:
        address = normalize_address(chain, value, where)
    except ReservesError as exc:
        raise _fail(str(exc)) from None
    if address != value:
        raise _fail(f"{where}: address {value} is not in its canonical form {address}")
    return address


def _wallets(raw: object) -> dict[tuple[str, str], Wallet]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_WALLETS:
        raise _fail(f"wallets: expected a list of 1..{MAX_WALLETS} wallets")
    out: dict[tuple[str, str], Wallet] = {}
    for i, entry in enumerate(raw):
        where = f"wallets[{i}]"
        if not isinstance(entry, dict):
            raise _fail(f"{where}: expected an object")
        chain = entry.get("chain")
        if chain not in CHAINS:
            raise _fail(f"{where}: unknown chain {str(chain)[:40]!r}")
        address = _address(chain, entry.get("address"), where)
        assets = entry.get("assets")
        if (
            not isinstance(assets, list)
            or not assets
            or not all(isinstance(a, str) and 0 < len(a) <= 32 for a in assets)
            or len(set(assets)) != len(assets)
        ):
            raise _fail(f"{where}: assets: expected a list of distinct symbols")
        role = entry.get("role")
        if role not in ROLES:
            raise _fail(f"{where}: role must be one of {ROLES}")
        if (chain, address) in out:
            raise _fail(f"{where}: {chain} address {address} is listed twice")
        out[(chain, address)] = Wallet(chain, address, tuple(assets), role)
    return out


def _pin(raw: object, chain: Chain, signed: Mapping[str, Any] | None) -> tuple[int, str, str]:
    key = "block" if chain == "ethereum" else "slot"
    if not isinstance(raw, dict):
        raise _fail(f"{chain}: the reading has no pin")
    number = raw.get(key)
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1 << 64:
        raise _fail(f"{chain}: pin {key}: expected an integer")
    block_hash = raw.get("hash", "")
    if not isinstance(block_hash, str) or len(block_hash) > 128:
        raise _fail(f"{chain}: pin hash: expected a string")
    chain_id = _text(raw.get("chain_id"), f"{chain}: pin chain_id", 128)
    if signed is not None and any(signed.get(k) != raw.get(k) for k in (key, "hash", "chain_id")):
        raise _fail(f"{chain}: the pin in reserves.json is not the signed one")
    return number, block_hash, chain_id


def _readings(
    raw: object,
    signed_pins: object,
    wallets: Mapping[tuple[str, str], Wallet],
    registry: AssetRegistry,
    ledger_assets: Mapping[str, int],
) -> list[CheckedReading]:
    if not isinstance(raw, list) or len(raw) > len(CHAINS):
        raise _fail("readings: expected a list of at most one reading per chain")
    signed: dict[str, Mapping[str, Any]] = {}
    if signed_pins is not None:
        if not isinstance(signed_pins, list):
            raise _fail("the manifest's reserves pins are not a list")
        signed = {str(p.get("chain")): p for p in signed_pins if isinstance(p, dict)}
    out: list[CheckedReading] = []
    seen: set[tuple[str, str, str]] = set()
    count = 0
    for reading in raw:
        if not isinstance(reading, dict) or not isinstance(reading.get("balances"), list):
            raise _fail("a reading without balances")
        chain = reading.get("chain")
        if chain not in CHAINS:
            raise _fail(f"a reading of unknown chain {str(chain)[:40]!r}")
        if any(r.chain == chain for r in out):
            raise _fail(f"{chain} is read twice (rule chain_read_twice)")
        if signed_pins is not None and chain not in signed:
            raise _fail(f"{chain}: the manifest signs no pin for this chain")
        number, block_hash, chain_id = _pin(reading.get("pin"), chain, signed.get(chain))
        balances = []
        count += len(reading["balances"])
        if count > MAX_BALANCES:
            raise _fail(f"more than {MAX_BALANCES} balances")
        for i, entry in enumerate(reading["balances"]):
            balances.append(
                _balance(
                    entry, f"{chain} balance {i}", chain, wallets, registry, ledger_assets, seen
                )
            )
        _reading_totals(reading.get("totals"), chain, balances)
        out.append(CheckedReading(chain, number, block_hash, chain_id, tuple(balances)))
    return out


def _balance(
    entry: object,
    where: str,
    chain: Chain,
    wallets: Mapping[tuple[str, str], Wallet],
    registry: AssetRegistry,
    ledger_assets: Mapping[str, int],
    seen: set[tuple[str, str, str]],
) -> Balance:
    if not isinstance(entry, dict):
        raise _fail(f"{where}: expected an object")
    raw_address = entry.get("address")
    if isinstance(raw_address, str) and (chain, raw_address) in wallets:
        address = raw_address  # a listed wallet's canonical text: no need to parse it again
    else:
        address = _address(chain, raw_address, where)
    asset = _text(entry.get("asset"), f"{where}: asset", 32)
    amount = parse_amount(entry.get("amount"), f"{where}: amount")
    account = _text(entry.get("account"), f"{where}: account", 64)

    def rule(name: str, detail: str) -> AssetRuleError:
        return AssetRuleError(name, asset=asset, chain=chain, address=address, detail=detail)

    wallet = wallets.get((chain, address))
    if wallet is None:
        raise rule("address_not_in_wallet_list", "this address is not one of the wallets listed")
    if asset not in wallet.assets:
        raise rule("asset_not_listed_for_wallet", f"the wallet lists {', '.join(wallet.assets)}")
    key = (chain, address, asset)
    if key in seen:
        raise rule("balance_listed_twice", "a second balance of the same address and asset")
    seen.add(key)
    spec = registry.get(chain, asset)
    if spec is None:
        raise rule("asset_not_registered", f"the {registry.source} has no {asset} on {chain}")
    want = expected_account(spec, address)
    same = account.lower() == want.lower() if chain == "ethereum" else account == want
    if not same:
        holder = {"native": "the address itself", "erc20": "token contract", "spl": "mint"}
        named = holder[spec.kind] + ("" if spec.contract is None else f" {spec.contract}")
        raise rule(
            "account_not_registered_for_asset",
            f"read from {account}, the {registry.source} says {asset} is held as"
            f" {spec.kind} ({named}): expected {want}",
        )
    if asset not in ledger_assets:
        raise rule("asset_not_in_manifest", "the manifest's assets do not include it")
    if spec.decimals != ledger_assets[asset]:
        raise rule(
            "decimals_differ_from_manifest",
            f"the registry says {spec.decimals} decimals, the manifest {ledger_assets[asset]}",
        )
    return Balance(address, asset, amount, account)


def _ownership(
    raw: object,
    exchange: str,
    exchange_key: str,
    snapshot_id: str,
    wallets: Mapping[tuple[str, str], Wallet],
    chain_ids: Mapping[str, str],
    policy: AttestationPolicy,
) -> int:
    if not isinstance(raw, list) or len(raw) > MAX_WALLETS:
        raise _fail("ownership: expected a list")
    hour = parse_iso_utc(snapshot_id, "snapshot id")
    proven: set[tuple[str, str]] = set()
    for i, entry in enumerate(raw):
        try:
            proof = OwnershipProof.from_dict(entry)
            where = (proof.chain, proof.address)
            if where not in wallets:
                raise OwnershipError(f"{proof.chain} {proof.address} is not in the wallet list")
            if where in proven:
                raise OwnershipError(f"{proof.chain} {proof.address} has two ownership proofs")
            chain_id = chain_ids.get(proof.chain)
            if chain_id is None:
                raise OwnershipError(f"no {proof.chain} reading gives the chain id to check")
            if proof.kind == "period":
                check_attestation(proof, wallets[where], hour, policy)
                binding = Binding(exchange, exchange_key, proof.chain, chain_id, proof.period,
                                  "period", proof.window, proof.block[:2])  # fmt: skip
            else:
                binding = Binding(exchange, exchange_key, proof.chain, chain_id, snapshot_id)
            verify_ownership(proof, binding)
        except ReservesError as exc:
            raise _fail(f"ownership[{i}]: {exc}") from None
        proven.add(where)
    for chain, address in wallets:
        if (chain, address) not in proven:
            raise OwnershipError(f"reserves.json: {chain} address {address} has no ownership proof")
    return len(proven)


def check_reserve_balances(
    reserves: Mapping[str, Any],
    *,
    registry: AssetRegistry,
    ledger_assets: Mapping[str, int],
    signed_pins: object = None,
) -> tuple[dict[tuple[str, str], Wallet], list[CheckedReading]]:
    """The wallet list and every reading's balances checked against the registry (the
    part of `check_published_reserves` that needs no signature; bench/reserves.py times it)."""
    wallets = _wallets(reserves.get("wallets"))
    readings = _readings(reserves.get("readings"), signed_pins, wallets, registry, ledger_assets)
    return wallets, readings


def check_published_reserves(
    reserves: object,
    *,
    snapshot_id: str,
    exchange_key: str,
    registry: AssetRegistry,
    ledger_assets: Mapping[str, int],
    signed_pins: object = None,
    policy: AttestationPolicy = DEFAULT_POLICY,
) -> CheckedReserves:
    """Check `reserves` (parsed JSON) as the module docstring says; raise ReservesError.

    `exchange_key` is the pinned manifest key (64 hex), `registry` the asset registry the
    verifier trusts, `ledger_assets` symbol -> decimals from the manifest, `signed_pins`
    the manifest's `reserves` list (None: not compared), `policy` the maximum age of a
    per-period attestation per wallet role.
    """
    if not isinstance(reserves, dict) or reserves.get("format") != REPORT_FORMAT:
        raise _fail(f"expected format {REPORT_FORMAT}")
    if has_lone_surrogate(reserves):
        raise _fail("not UTF-8 text: a string holds a lone surrogate")
    exchange = reserves.get("exchange")
    if not isinstance(exchange, str) or not exchange or "\n" in exchange or len(exchange) > 256:
        raise _fail("exchange: expected a one-line name")
    wallets, readings = check_reserve_balances(
        reserves, registry=registry, ledger_assets=ledger_assets, signed_pins=signed_pins
    )
    chain_ids: dict[str, str] = {r.chain: r.chain_id for r in readings}
    proofs = _ownership(
        reserves.get("ownership"), exchange, exchange_key, snapshot_id, wallets, chain_ids, policy
    )
    totals: dict[str, int] = {}
    for reading in readings:
        for balance in reading.balances:
            totals[balance.asset] = totals.get(balance.asset, 0) + balance.amount
    stated_raw = reserves.get("totals")
    if not isinstance(stated_raw, dict):
        raise _fail("totals: expected an object")
    stated = {str(k): parse_amount(v, f"totals.{k}") for k, v in stated_raw.items()}
    if stated != totals:
        raise _fail(f"totals {stated} differ from the sum of the balances {totals}")
    return CheckedReserves(exchange, tuple(wallets.values()), tuple(readings), totals, proofs)
