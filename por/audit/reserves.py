"""`por verify reserves`: re-read every balance of a bundle from the auditor's own nodes.

Ethereum: the bundle pins a block by number and hash. The auditor's node must have that
block number with that hash (else a reorg, or a block the exchange made up), and every
balance is read at that block number: `eth_getBalance` for ETH (account == address),
ERC-20 `balanceOf(address)` on the token contract (account) otherwise, in JSON-RPC
batches. Every amount must equal the published one.

Solana: RPC nodes cannot read a past slot. Every account is read in one batch of
`getMultipleAccounts` (finalized, `minContextSlot` = the bundle's slot); all responses
must come from one slot. Read at the bundle's own slot, every amount must be equal. Read
at a later slot, equal amounts still pass (said so), and a difference fails with the
honest caveat that funds may have moved since.

Reading is here (httpx); the comparison is plain. Results are `por.audit.bundle.Check`s.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from por.audit.bundle import Check
from por.audit.errors import AuditInputError

__all__ = ["BATCH", "verify_reserves"]

BATCH = 500  # JSON-RPC requests per HTTP request
SOLANA_KEYS_PER_REQUEST = 100
_BALANCE_OF = "0x70a08231"
_TOKEN_ACCOUNT_LEN = 165
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


def _balances(reading: Mapping[str, Any]) -> list[tuple[str, str, int, str]]:
    out = []
    for b in reading.get("balances", []):
        out.append((str(b["address"]), str(b["asset"]), int(b["amount"]), str(b["account"])))
    return out


def _ethereum(rpc: _Rpc, reading: Mapping[str, Any]) -> Check:
    pin = reading["pin"]
    number, want_hash = int(pin["block"]), str(pin["hash"]).lower()
    (block,) = rpc.batch([("eth_getBlockByNumber", [hex(number), False])])
    got = None if block is None else str(block.get("hash", "")).lower()
    if got != want_hash:
        return Check(
            "ethereum",
            "fail",
            f"your node's block {number} has hash {got}, the bundle says {want_hash}"
            " (a reorg, another chain, or a block that never was)",
        )
    balances = _balances(reading)
    calls: list[tuple[str, list[Any]]] = []
    for address, _asset, _amount, account in balances:
        if account.lower() == address.lower():
            calls.append(("eth_getBalance", [address, hex(number)]))
        else:
            data = _BALANCE_OF + address.lower().removeprefix("0x").rjust(64, "0")
            calls.append(("eth_call", [{"to": account, "data": data}, hex(number)]))
    results = rpc.batch(calls)
    wrong = []
    for (address, asset, amount, _), result in zip(balances, results, strict=True):
        try:
            value = int(str(result), 16) if result not in (None, "0x") else 0
        except ValueError:
            value = -1
        if value != amount:
            wrong.append(f"{asset} of {address}: bundle {amount}, your node {value}")
    if wrong:
        return Check(
            "ethereum",
            "fail",
            f"{len(wrong)} of {len(balances)} balances differ at block"
            f" {number}: " + "; ".join(wrong[:5]),
        )
    return Check(
        "ethereum",
        "pass",
        f"{len(balances)} balances equal at block {number} (hash {want_hash[:12]}… on your node)",
    )


def _solana(rpc: _Rpc, reading: Mapping[str, Any]) -> Check:
    slot = int(reading["pin"]["slot"])
    balances = _balances(reading)
    accounts = [account for _, _, _, account in balances]
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
    read_at = slots.pop() if slots else slot
    wrong = []
    for (address, asset, amount, account), value in zip(balances, values, strict=True):
        got = _solana_amount(address, account, value)
        if got != amount:
            wrong.append(f"{asset} of {address}: bundle {amount}, your node {got}")
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
            f"{len(wrong)} of {len(balances)} balances differ{caveat}: " + "; ".join(wrong[:5]),
        )
    where = (
        f"at the bundle's slot {slot}"
        if not later
        else (
            f"at slot {read_at}, {later} slots after the bundle's {slot} (no archive reads on"
            " Solana; unchanged since)"
        )
    )
    return Check("solana", "pass", f"{len(balances)} balances equal {where}")


def _solana_amount(address: str, account: str, value: Any) -> int:
    if value is None:
        return 0
    if account == address:
        return int(value["lamports"])
    data = base64.b64decode(value["data"][0])
    if len(data) != _TOKEN_ACCOUNT_LEN:
        return -1
    from solders.pubkey import Pubkey

    if str(Pubkey.from_bytes(data[32:64])) != address:
        return -1  # a token account of someone else
    return int.from_bytes(data[64:72], "little")


def verify_reserves(
    reserves: Mapping[str, Any], eth_rpc: str | None, sol_rpc: str | None
) -> list[Check]:
    """One check per chain reading; a chain without an RPC is skipped, said so."""
    checks = []
    for reading in reserves.get("readings", []):
        chain = reading.get("chain")
        url = {"ethereum": eth_rpc, "solana": sol_rpc}.get(chain)
        if url is None:
            checks.append(Check(str(chain), "skip", f"no RPC given for {chain}"))
            continue
        rpc = _Rpc(url, str(chain))
        try:
            checks.append(_ethereum(rpc, reading) if chain == "ethereum" else _solana(rpc, reading))
        except AuditInputError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            checks.append(Check(str(chain), "fail", f"malformed reading or answer: {exc!r}"))
        finally:
            rpc.close()
    return checks
