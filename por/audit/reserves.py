"""`por verify reserves`: check a bundle's reserves.json, then re-read every balance from
the auditor's own nodes.

First the same check `por verify bundle` runs (`por.reserves.verify`): every balance read
from the contract or mint the asset registry names, once, of a listed wallet, every
ownership proof bound to the pinned key. Only a reserves.json that passes is re-read, so a
crafted file is refused with a reason and never reaches a node.

Ethereum: the node must be on the pinned chain (`eth_chainId`) and have the pinned block
number with the pinned hash (else a reorg, or a block the exchange made up); every
balance is read at that block: `eth_getBalance` for a native asset, ERC-20
`balanceOf(address)` on the registered token contract otherwise, in JSON-RPC batches.
Every amount must equal the published one.

Solana: the node must be on the pinned chain (`getGenesisHash`). RPC nodes cannot read a
past slot: every account is read in one batch of `getMultipleAccounts` (finalized,
`minContextSlot` = the bundle's slot), all responses from one slot. Every SPL account must
be a token account of the registered mint owned by the wallet (`spl_mint_mismatch`,
`spl_owner_mismatch`, `spl_account_not_a_token_account`). Read at the bundle's own slot,
every amount must be equal; at a later slot, equal amounts still pass (said so), and a
difference fails with the honest caveat that funds may have moved since.

Reading is here (httpx); the comparison is plain. Results are `por.audit.bundle.Check`s.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from por.audit.bundle import Check, _Fail, reserve_registry
from por.audit.errors import AuditInputError

if TYPE_CHECKING:
    from por.manifest import Manifest
    from por.reserves.attestation import AttestationPolicy
    from por.reserves.registry import AssetRegistry
    from por.reserves.verify import CheckedReading

__all__ = ["BATCH", "verify_reserves"]

BATCH = 500  # JSON-RPC requests per HTTP request
SOLANA_KEYS_PER_REQUEST = 100
_BALANCE_OF = "0x70a08231"
_TOKEN_ACCOUNT_LEN = 165
_TOKEN_PROGRAMS = ("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",)
_TIMEOUT_S = 60.0  # float-ok: seconds


class _Rpc:
    def __init__(self, url: str, name: str) -> None:
        import httpx

        self.url = url
        self.name = name
        self.client = httpx.Client(timeout=_TIMEOUT_S)

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        import httpx

        results: list[Any] = []
        for start in range(0, len(calls), BATCH):
            chunk = calls[start : start + BATCH]
            body = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                for i, (m, p) in enumerate(chunk)
            ]
            try:
                response = self.client.post(self.url, json=body)
                answers = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise AuditInputError(f"{self.name} RPC {self.url}: {exc}") from None
            if not isinstance(answers, list):
                raise AuditInputError(
                    f"{self.name} RPC: not a batch response: {str(answers)[:200]}"
                )
            by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
            for i, (method, _) in enumerate(chunk):
                answer = by_id.get(i)
                if answer is None or "error" in answer:
                    detail = None if answer is None else answer.get("error")
                    raise AuditInputError(f"{self.name} RPC {method}: {detail or 'no answer'}")
                results.append(answer.get("result"))
        return results

    def close(self) -> None:
        self.client.close()


def _ethereum(rpc: _Rpc, reading: CheckedReading, registry: AssetRegistry) -> Check:
    number, want_hash = reading.number, reading.hash.lower()
    chain_id, block = rpc.batch(
        [("eth_chainId", []), ("eth_getBlockByNumber", [hex(number), False])]
    )
    node_chain = f"eip155:{int(str(chain_id), 16)}"
    if node_chain != reading.chain_id:
        return Check(
            "ethereum",
            "fail",
            f"your node is on chain {node_chain}, the bundle's pin says {reading.chain_id}",
        )
    got = None if not isinstance(block, dict) else str(block.get("hash", "")).lower()
    if got != want_hash:
        return Check(
            "ethereum",
            "fail",
            f"your node's block {number} has hash {got}, the bundle says {want_hash}"
            " (a reorg, another chain, or a block that never was)",
        )
    calls: list[tuple[str, list[Any]]] = []
    for b in reading.balances:
        spec = registry.get("ethereum", b.asset)
        if spec is None or spec.contract is None:
            calls.append(("eth_getBalance", [b.address, hex(number)]))
        else:
            data = _BALANCE_OF + b.address.lower().removeprefix("0x").rjust(64, "0")
            calls.append(("eth_call", [{"to": spec.contract, "data": data}, hex(number)]))
    results = rpc.batch(calls)
    wrong = []
    for b, result in zip(reading.balances, results, strict=True):
        text = str(result)
        try:
            value = int(text, 16) if result not in (None, "0x") and len(text) <= 66 else 0
        except ValueError:
            value = -1
        if value != b.amount:
            wrong.append(f"{b.asset} of {b.address}: bundle {b.amount}, your node {value}")
    if wrong:
        return Check(
            "ethereum",
            "fail",
            f"{len(wrong)} of {len(reading.balances)} balances differ at block"
            f" {number}: " + "; ".join(wrong[:5]),
        )
    return Check(
        "ethereum",
        "pass",
        f"{len(reading.balances)} balances equal at block {number} (hash {want_hash[:12]}…"
        f" on your node, chain {node_chain})",
    )


def _solana(rpc: _Rpc, reading: CheckedReading, registry: AssetRegistry) -> Check:
    slot = reading.number
    (genesis,) = rpc.batch([("getGenesisHash", [])])
    node_chain = f"solana:{genesis}"
    if node_chain != reading.chain_id:
        return Check(
            "solana",
            "fail",
            f"your node is on chain {node_chain}, the bundle's pin says {reading.chain_id}",
        )
    accounts = [b.account for b in reading.balances]
    config = {"encoding": "base64", "commitment": "finalized", "minContextSlot": slot}
    calls: list[tuple[str, list[Any]]] = [
        ("getMultipleAccounts", [accounts[i : i + SOLANA_KEYS_PER_REQUEST], config])
        for i in range(0, len(accounts), SOLANA_KEYS_PER_REQUEST)
    ]
    results = rpc.batch(calls) if calls else []
    slots = {int(r["context"]["slot"]) for r in results}
    if len(slots) > 1:
        return Check("solana", "fail", f"your node answered from several slots {sorted(slots)}")
    values = [v for r in results for v in r["value"]]
    if len(values) != len(accounts):
        return Check("solana", "fail", f"your node gave {len(values)} of {len(accounts)} accounts")
    read_at = slots.pop() if slots else slot
    wrong = []
    for b, value in zip(reading.balances, values, strict=True):
        spec = registry.get("solana", b.asset)
        mint = None if spec is None else spec.contract
        got = _solana_amount(b.address, b.asset, mint, value)
        if isinstance(got, str):
            return Check("solana", "fail", got)
        if got != b.amount:
            wrong.append(f"{b.asset} of {b.address}: bundle {b.amount}, your node {got}")
    later = read_at - slot
    if wrong:
        caveat = (
            f" (read at slot {read_at}, {later} slots after the bundle's {slot}: Solana cannot"
            " be read in the past, so funds may have moved since)"
            if later
            else f" at the bundle's slot {slot}"
        )
        return Check(
            "solana",
            "fail",
            f"{len(wrong)} of {len(reading.balances)} balances differ{caveat}: "
            + "; ".join(wrong[:5]),
        )
    where = (
        f"at the bundle's slot {slot}"
        if not later
        else (
            f"at slot {read_at}, {later} slots after the bundle's {slot} (no archive reads on"
            " Solana; unchanged since)"
        )
    )
    return Check("solana", "pass", f"{len(reading.balances)} balances equal {where}")


def _solana_amount(address: str, asset: str, mint: str | None, value: Any) -> int | str:
    """The amount an account holds, or a one-line rule violation (str) naming the rule."""
    if value is None:
        return 0
    if mint is None:
        return int(value["lamports"])
    from solders.pubkey import Pubkey

    def rule(name: str, detail: str) -> str:
        return f"{name}: {asset} on solana, address {address}: {detail}"

    data = base64.b64decode(value["data"][0])
    if value.get("owner") not in _TOKEN_PROGRAMS or len(data) < _TOKEN_ACCOUNT_LEN:
        return rule(
            "spl_account_not_a_token_account",
            f"the account is owned by program {value.get('owner')}, {len(data)} bytes",
        )
    held_mint, owner = str(Pubkey.from_bytes(data[0:32])), str(Pubkey.from_bytes(data[32:64]))
    if held_mint != mint:
        return rule("spl_mint_mismatch", f"the token account holds mint {held_mint}, not {mint}")
    if owner != address:
        return rule("spl_owner_mismatch", f"the token account is owned by {owner}")
    return int.from_bytes(data[64:72], "little")


def _urls(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def verify_reserves(
    reserves: Any,
    eth_rpc: str | Sequence[str] | None,
    sol_rpc: str | Sequence[str] | None,
    *,
    manifest: Manifest,
    document: Mapping[str, Any],
    assets: AssetRegistry | None = None,
    exchange_key: bytes | None = None,
    policy: AttestationPolicy | None = None,
) -> list[Check]:
    """The "reserves" check (as `verify bundle` runs it), then one check per chain reading
    and node; a chain without an RPC is skipped, said so.

    `assets`: the auditor's pinned asset registry (else the manifest's signed one);
    `exchange_key`: the pinned manifest key (else the manifest's own, unpinned);
    `policy`: the maximum age of a per-period attestation per role (None: the defaults).
    """
    from por.reserves.attestation import DEFAULT_POLICY
    from por.reserves.errors import ReservesError
    from por.reserves.verify import check_published_reserves

    key = (exchange_key or manifest.public_key).hex()
    try:
        registry = reserve_registry(document, assets)
        checked = check_published_reserves(
            reserves,
            snapshot_id=manifest.snapshot_id,
            exchange_key=key,
            registry=registry,
            ledger_assets={a.symbol: a.decimals for a in manifest.assets},
            signed_pins=document.get("reserves"),
            policy=policy or DEFAULT_POLICY,
        )
    except (_Fail, ReservesError) as exc:
        return [
            Check("reserves", "fail", str(exc)),
            Check("nodes", "skip", "reserves.json fails its checks: nothing was re-read"),
        ]
    checks = [
        Check(
            "reserves",
            "pass",
            f"{checked.proofs} ownership proofs bound to key {key[:16]}… verify; every balance"
            f" matches the {registry.source}",
        )
    ]
    nodes = {"ethereum": _urls(eth_rpc), "solana": _urls(sol_rpc)}
    for reading in checked.readings:
        urls = nodes[reading.chain]
        if not urls:
            checks.append(Check(reading.chain, "skip", f"no RPC given for {reading.chain}"))
        for n, url in enumerate(urls):
            rpc = _Rpc(url, reading.chain)
            try:
                check = (
                    _ethereum(rpc, reading, registry)
                    if reading.chain == "ethereum"
                    else _solana(rpc, reading, registry)
                )
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                check = Check(reading.chain, "fail", f"malformed answer from {url}: {exc!r}")
            finally:
                rpc.close()
            if len(urls) > 1:
                check = Check(f"{check.name} node {n + 1}", check.status, f"{url}: {check.detail}")
            checks.append(check)
    checks += _attestation_blocks(reserves, nodes)
    return checks


def _attestation_blocks(reserves: Mapping[str, Any], nodes: Mapping[str, list[str]]) -> list[Check]:
    """Each cold wallet's per-period attestation names a block: ask your node that it is a
    block of that chain (by number and hash) made at the time `reserves.json` states (the
    time is the exchange's statement, which the attestation age is computed from)."""
    from por.reserves.blocks import block_source
    from por.reserves.errors import ReservesError
    from por.reserves.ownership import OwnershipProof
    from por.reserves.values import iso_utc

    blocks: dict[str, set[tuple[int, str, str]]] = {}
    for raw in reserves.get("ownership") or ():
        proof = OwnershipProof.from_dict(raw)  # already checked: it parses
        if proof.kind == "period":
            blocks.setdefault(proof.chain, set()).add(proof.block)
    checks = []
    for chain, wanted in sorted(blocks.items()):
        for url in nodes.get(chain, []):
            name = f"{chain} attestation blocks"
            problems = []
            try:
                source = block_source(chain, url)  # type: ignore[arg-type]
                for number, block_hash, time in sorted(wanted):
                    found = source.find(number, block_hash)
                    if found is None:
                        problems.append(
                            f"attestation_block_not_on_chain: block {number} {block_hash} is not"
                            f" a block of your {chain} node's chain (or it keeps no history)"
                        )
                    elif iso_utc(found.time) != time:
                        problems.append(
                            f"attestation_block_time_differs: block {number} was made at"
                            f" {iso_utc(found.time)}, reserves.json says {time}"
                        )
            except ReservesError as exc:
                problems.append(str(exc))
            detail = "; ".join(problems) or (
                f"{len(wanted)} attestation blocks are blocks of this chain at the stated time"
            )
            checks.append(Check(name, "fail" if problems else "pass", f"{url}: {detail}"))
    return checks
