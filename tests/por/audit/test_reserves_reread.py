"""`verify_reserves`: balances re-read from the auditor's own nodes (Anvil, LiteSVM RPC)."""

from __future__ import annotations

import copy
import json
from typing import Any

from por.audit.reserves import verify_reserves
from por.chain.ethereum_world import connect, mine, set_eth_balances
from tests.por.audit.published import Published


def reserves(p: Published, hour: int = 1) -> Any:
    return json.loads((p.bundle(hour) / "reserves.json").read_text())


def by_chain(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


def test_every_balance_re_reads_equal_at_the_pinned_block_and_slot(published: Published) -> None:
    for hour in range(3):
        checks = by_chain(
            verify_reserves(reserves(published, hour), published.eth_rpc, published.sol_rpc)
        )
        assert checks["ethereum"].status == "pass", checks["ethereum"].detail
        assert checks["solana"].status == "pass", checks["solana"].detail
        assert "at block" in checks["ethereum"].detail


def test_balances_moved_after_the_block_do_not_matter_but_a_lie_in_the_bundle_does(
    published: Published,
) -> None:
    data = reserves(published)
    w3 = connect(published.eth_rpc)
    address = next(b["address"] for b in data["readings"][0]["balances"] if b["asset"] == "ETH")
    set_eth_balances(w3, {address: 1})  # the exchange empties a wallet after the hour
    mine(w3, 1)
    assert by_chain(verify_reserves(data, published.eth_rpc, None))["ethereum"].status == "pass"
    lie = copy.deepcopy(data)
    eth = next(b for b in lie["readings"][0]["balances"] if b["asset"] == "ETH")
    eth["amount"] = str(int(eth["amount"]) + 1)
    check = by_chain(verify_reserves(lie, published.eth_rpc, None))["ethereum"]
    assert check.status == "fail" and "1 of 6 balances differ" in check.detail, check.detail


def test_a_pinned_hash_the_auditors_node_does_not_have_fails(published: Published) -> None:
    data = reserves(published)
    data["readings"][0]["pin"]["hash"] = "0x" + "ab" * 32
    check = by_chain(verify_reserves(data, published.eth_rpc, None))["ethereum"]
    assert check.status == "fail" and "a block that never was" in check.detail


def test_a_solana_balance_that_differs_fails_with_the_slot_caveat(published: Published) -> None:
    data = reserves(published)
    sol = next(r for r in data["readings"] if r["chain"] == "solana")
    sol["balances"][0]["amount"] = "7"
    check = by_chain(verify_reserves(data, None, published.sol_rpc))["solana"]
    assert check.status == "fail", check.detail
    assert "balances differ" in check.detail and "bundle 7" in check.detail


def test_a_chain_without_an_rpc_is_skipped_and_said_so(published: Published) -> None:
    checks = by_chain(verify_reserves(reserves(published), published.eth_rpc, None))
    assert checks["solana"].status == "skip" and "no RPC given" in checks["solana"].detail
