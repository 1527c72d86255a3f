"""The on-chain anchor: one Ethereum transaction to PorAnchor per published hour.

`publish(snapshotId, logSize, logRoot, manifestHash)` emits `RootPublished`; the contract
refuses a second root for an hour and a log that does not grow (docs/reserves.md). The
transaction hash goes into the next hour's manifest (`previous.anchor`) and onto the site.

Crash safety: before sending, `ensure` asks the contract (`anchorOf`) whether the hour is
already anchored -- a publisher killed after sending but before recording finds its own
transaction there (by the RootPublished event in the anchored block) instead of sending a
second one, and a different root on chain for the hour is reported, never overwritten.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, cast

from por.publish._crash import crashpoint
from por.publish.errors import AnchorError

__all__ = ["AnchorConfig", "AnchorRecord", "Anchorer"]


@dataclass(frozen=True, slots=True)
class AnchorConfig:
    """Where to anchor: the node, the PorAnchor contract, and who sends.

    `private_key` (0x hex secp256k1) signs locally; without it `sender` must be an
    account the node unlocks (Anvil's dev accounts). Timeouts in seconds.
    """

    rpc_url: str
    contract: str
    sender: str | None = None
    private_key: str | None = None
    timeout_s: int = 60


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    chain_id: int
    contract: str
    tx: str
    block: int

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": "ethereum",
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx": self.tx,
            "block": self.block,
        }


class Anchorer:
    """Sends and finds anchors on one PorAnchor contract."""

    def __init__(self, config: AnchorConfig) -> None:
        from eth_utils.address import to_checksum_address
        from web3 import Web3

        from por.reserves.contracts import load_artifact

        self.config = config
        self.w3 = Web3(
            Web3.HTTPProvider(config.rpc_url, request_kwargs={"timeout": config.timeout_s})
        )
        try:
            self.address = to_checksum_address(config.contract)
        except ValueError:
            raise AnchorError(f"anchor contract: not an address: {config.contract!r}") from None
        self.contract = self.w3.eth.contract(
            address=self.address, abi=load_artifact("PorAnchor").abi
        )
        self._account: Any = None
        if config.private_key:
            from eth_account import Account

            self._account = Account.from_key(config.private_key)
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def _record(self, tx: str, block: int) -> AnchorRecord:
        return AnchorRecord(self.chain_id, self.address, tx, block)

    def find(self, snapshot_id: str) -> tuple[int, bytes, bytes, AnchorRecord] | None:
        """The on-chain anchor of `snapshot_id` (size, root, manifest hash, tx) or None."""
        size, root, manifest_hash, block = self.contract.functions.anchorOf(snapshot_id).call()
        if int(size) == 0:
            return None
        events = self.contract.events.RootPublished().get_logs(
            from_block=int(block), to_block=int(block)
        )
        for event in events:
            if event["args"]["snapshotId"] == snapshot_id:
                tx = "0x" + bytes(event["transactionHash"]).hex().removeprefix("0x")
                return int(size), bytes(root), bytes(manifest_hash), self._record(tx, int(block))
        raise AnchorError(
            f"anchor of {snapshot_id} recorded at block {block} but its RootPublished event "
            "was not found there"
        )

    def ensure(
        self, snapshot_id: str, log_size: int, log_root: bytes, manifest_sha256: bytes
    ) -> AnchorRecord:
        """Anchor the hour unless it is already anchored with exactly these values."""
        try:
            found = self.find(snapshot_id)
            if found is not None:
                size, root, mhash, record = found
                if (
                    size != log_size
                    or not hmac.compare_digest(root, log_root)
                    or not hmac.compare_digest(mhash, manifest_sha256)
                ):
                    raise AnchorError(
                        f"{snapshot_id} is anchored on chain with log size {size}, root "
                        f"{root.hex()}, manifest {mhash.hex()}: not the published values "
                        f"({log_size}, {log_root.hex()}, {manifest_sha256.hex()})"
                    )
                return record
        except AnchorError:
            raise
        except Exception as exc:  # web3 raises many types (connection, timeout)
            raise AnchorError(f"anchoring {snapshot_id} failed: {self._describe(exc)}") from None
        return self.send(snapshot_id, log_size, log_root, manifest_sha256)

    def _describe(self, exc: Exception) -> str:
        """A one-line reason; a contract revert is named by its custom error."""
        data = getattr(exc, "data", None)
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            from eth_utils.crypto import keccak

            abi: list[dict[str, Any]] = [dict(item) for item in self.contract.abi]
            for item in abi:
                if item.get("type") == "error":
                    types = ",".join(str(i["type"]) for i in item.get("inputs", []))
                    selector = "0x" + keccak(text=f"{item['name']}({types})")[:4].hex()
                    if data.startswith(selector):
                        return f"the contract refused it: {item['name']}"
        text = str(exc).splitlines()[0] if str(exc) else ""
        return text[:300] or type(exc).__name__

    def send(
        self, snapshot_id: str, log_size: int, log_root: bytes, manifest_sha256: bytes
    ) -> AnchorRecord:
        """Send the anchor transaction without looking first (`ensure` looks first)."""
        try:
            return self._send(snapshot_id, log_size, log_root, manifest_sha256)
        except AnchorError:
            raise
        except Exception as exc:  # web3 raises many types (connection, revert, timeout)
            raise AnchorError(f"anchoring {snapshot_id} failed: {self._describe(exc)}") from None

    def _send(
        self, snapshot_id: str, log_size: int, log_root: bytes, manifest_sha256: bytes
    ) -> AnchorRecord:
        call = self.contract.functions.publish(snapshot_id, log_size, log_root, manifest_sha256)
        if self._account is not None:
            sender = self._account.address
            tx = call.build_transaction(
                {
                    "from": sender,
                    "nonce": self.w3.eth.get_transaction_count(sender, "pending"),
                    "chainId": self.chain_id,
                }
            )
            signed = self._account.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            sender = self.config.sender or self.w3.eth.accounts[0]
            tx_hash = call.transact(cast(Any, {"from": sender}))
        crashpoint("anchor-sent")
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.config.timeout_s)
        if receipt["status"] != 1:
            raise AnchorError(f"anchor transaction {tx_hash.hex()} for {snapshot_id} reverted")
        tx_hex = "0x" + bytes(tx_hash).hex().removeprefix("0x")
        return self._record(tx_hex, int(receipt["blockNumber"]))
