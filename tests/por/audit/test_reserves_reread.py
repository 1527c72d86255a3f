"""`verify_reserves`: balances re-read from the auditor's own nodes (Anvil, LiteSVM RPC),
after the same reserves check `verify bundle` runs."""

from __future__ import annotations

import copy
import json
from typing import Any

from por.audit.reserves import verify_reserves
from por.chain.ethereum_world import connect, mine, set_eth_balances
from por.manifest import parse_manifest_bytes
from tests.por.audit.published import Published


def reserves(p: Published, hour: int = 1) -> Any:
    return json.loads((p.bundle(hour) / "reserves.json").read_text())


def reread(
    p: Published,
    data: Any,
    eth: str | None,
    sol: str | None,
    hour: int = 1,
    document: Any = None,
) -> dict[str, Any]:
    raw = (p.bundle(hour) / "manifest.json").read_bytes()
    checks = verify_reserves(
        data,
        eth,
        sol,
        manifest=parse_manifest_bytes(raw),
        document=document or json.loads(raw),
        exchange_key=bytes.fromhex(p.public_key),
    )
    return {c.name: c for c in checks}


def lie(data: Any, chain: str, index: int, amount: int) -> Any:
    """A balance changed, and the totals with it, the file's and the reading's (so only a
    node can tell)."""
    out = copy.deepcopy(data)
    reading = next(r for r in out["readings"] if r["chain"] == chain)
    balance = reading["balances"][index]
    before = int(balance["amount"])
    balance["amount"] = str(amount)
    for totals in (out["totals"], reading["totals"]):
        totals[balance["asset"]] = str(int(totals[balance["asset"]]) - before + amount)
    return out


def test_every_balance_re_reads_equal_at_the_pinned_block_and_slot(published: Published) -> None:
    for hour in range(3):
        checks = reread(
            published, reserves(published, hour), published.eth_rpc, published.sol_rpc, hour
        )
        assert checks["reserves"].status == "pass", checks["reserves"].detail
        assert checks["ethereum"].status == "pass", checks["ethereum"].detail
        assert checks["solana"].status == "pass", checks["solana"].detail
        assert (
            "at block" in checks["ethereum"].detail and "chain eip155:" in checks["ethereum"].detail
        )


def test_balances_moved_after_the_block_do_not_matter_but_a_lie_in_the_bundle_does(
    published: Published,
) -> None:
    data = reserves(published)
    w3 = connect(published.eth_rpc)
    address = next(b["address"] for b in data["readings"][0]["balances"] if b["asset"] == "ETH")
    set_eth_balances(w3, {address: 1})  # the exchange empties a wallet after the hour
    mine(w3, 1)
    assert reread(published, data, published.eth_rpc, None)["ethereum"].status == "pass"
    index = next(i for i, b in enumerate(data["readings"][0]["balances"]) if b["asset"] == "ETH")
    told = lie(data, "ethereum", index, int(data["readings"][0]["balances"][index]["amount"]) + 1)
    check = reread(published, told, published.eth_rpc, None)["ethereum"]
    assert check.status == "fail" and "1 of 6 balances differ" in check.detail, check.detail


def test_a_pinned_hash_the_auditors_node_does_not_have_fails(published: Published) -> None:
    data = reserves(published)
    data["readings"][0]["pin"]["hash"] = "0x" + "ab" * 32
    document = json.loads((published.bundle() / "manifest.json").read_text())
    next(p for p in document["reserves"] if p["chain"] == "ethereum")["hash"] = "0x" + "ab" * 32
    check = reread(published, data, published.eth_rpc, None, document=document)["ethereum"]
    assert check.status == "fail" and "a block that never was" in check.detail


def test_a_pin_on_another_chain_id_fails_before_any_balance_is_read(published: Published) -> None:
    data = reserves(published)
    document = json.loads((published.bundle() / "manifest.json").read_text())
    data["readings"][0]["pin"]["chain_id"] = "eip155:1"
    next(p for p in document["reserves"] if p["chain"] == "ethereum")["chain_id"] = "eip155:1"
    checks = reread(published, data, published.eth_rpc, None, document=document)
    # the ownership proofs name the real chain: the pure check already refuses it
    assert checks["reserves"].status == "fail" and "chain id" in checks["reserves"].detail
    assert checks["nodes"].status == "skip"


def test_a_solana_balance_that_differs_fails_with_the_slot_caveat(published: Published) -> None:
    data = lie(reserves(published), "solana", 0, 7)
    check = reread(published, data, None, published.sol_rpc)["solana"]
    assert check.status == "fail", check.detail
    assert "balances differ" in check.detail and "bundle 7" in check.detail


def test_a_chain_without_an_rpc_is_skipped_and_said_so(published: Published) -> None:
    checks = reread(published, reserves(published), published.eth_rpc, None)
    assert checks["solana"].status == "skip" and "no RPC given" in checks["solana"].detail


def test_each_of_several_nodes_is_checked(published: Published) -> None:
    checks = reread(published, reserves(published), [published.eth_rpc] * 2, None)
    assert checks["ethereum node 1"].status == checks["ethereum node 2"].status == "pass"
