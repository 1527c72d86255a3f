"""PorAnchor on a real Anvil: RootPublished events, one root per snapshot, a growing log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError

from por.chain.anvil import Anvil
from por.chain.ethereum_world import EthereumWorld, connect, deploy_world
from por.reserves.contracts import load_artifact

ROOT = bytes.fromhex("11" * 32)
MANIFEST = bytes.fromhex("22" * 32)


@pytest.fixture(scope="module")
def chain() -> Iterator[tuple[Web3, EthereumWorld, Any]]:
    with Anvil() as node:
        w3 = connect(node.url)
        publisher = w3.eth.accounts[1]
        world = deploy_world(node.url, publisher=publisher)
        anchor = w3.eth.contract(address=world.anchor, abi=load_artifact("PorAnchor").abi)
        yield w3, world, anchor


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def test_publishing_emits_root_published_and_records_the_anchor(chain: Any) -> None:
    w3, _, anchor = chain
    publisher = w3.eth.accounts[1]
    tx = anchor.functions.publish("2026-11-24T16:00:00Z", 5, ROOT, MANIFEST).transact(
        {"from": publisher}
    )
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    (event,) = anchor.events.RootPublished().process_receipt(receipt)
    assert event["args"] == {
        "snapshotId": "2026-11-24T16:00:00Z",
        "logSize": 5,
        "logRoot": ROOT,
        "manifestHash": MANIFEST,
    }
    size, root, manifest, block = anchor.functions.anchorOf("2026-11-24T16:00:00Z").call()
    assert (size, root, manifest, block) == (5, ROOT, MANIFEST, receipt["blockNumber"])
    assert anchor.functions.lastLogSize().call() == 5
    assert anchor.functions.anchorOf("2026-11-24T17:00:00Z").call()[0] == 0, "not anchored"


def test_a_second_root_for_the_same_snapshot_is_rejected_on_chain(chain: Any) -> None:
    w3, _, anchor = chain
    publisher = w3.eth.accounts[1]
    anchor.functions.publish("2026-11-24T18:00:00Z", 9, ROOT, MANIFEST).transact(
        {"from": publisher}
    )
    other_root = bytes.fromhex("33" * 32)
    with pytest.raises(ContractCustomError) as info:
        anchor.functions.publish("2026-11-24T18:00:00Z", 10, other_root, MANIFEST).transact(
            {"from": publisher}
        )
    assert str(info.value.data).startswith(_selector("AlreadyPublished(string,bytes32,bytes32)"))


def test_the_log_size_must_grow(chain: Any) -> None:
    w3, _, anchor = chain
    publisher = w3.eth.accounts[1]
    last = anchor.functions.lastLogSize().call()
    with pytest.raises(ContractCustomError) as info:
        anchor.functions.publish("2026-11-25T00:00:00Z", last, ROOT, MANIFEST).transact(
            {"from": publisher}
        )
    assert str(info.value.data).startswith(_selector("LogMustGrow(uint64,uint64)"))


def test_only_the_publisher_can_anchor(chain: Any) -> None:
    w3, world, anchor = chain
    with pytest.raises(ContractCustomError) as info:
        anchor.functions.publish("2026-11-25T01:00:00Z", 99, ROOT, MANIFEST).transact(
            {"from": world.deployer}
        )
    assert str(info.value.data).startswith(_selector("NotPublisher(address)"))
