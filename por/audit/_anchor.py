"""The on-chain anchor, read from the auditor's own Ethereum node.

PorAnchor keeps one record per snapshot id: `anchorOf(id) -> (logSize, logRoot,
manifestHash, blockNumber)`, and the publication transaction emits `RootPublished`. A
manifest names the previous hour's anchor (`previous.anchor`: contract, tx, block) and the
SHA-256 of the previous manifest. We check this hour's record against this manifest, and
the previous hour's transaction receipt against what this manifest says of that hour.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from por.audit.errors import AuditInputError, LogMismatchError
from por.manifest import Manifest

__all__ = ["check_anchor"]


def _contract(w3: Any, address: str) -> Any:
    from eth_utils.address import to_checksum_address

    from por.reserves.contracts import load_artifact

    try:
        checksummed = to_checksum_address(address)
    except ValueError:
        raise LogMismatchError(f"anchor contract {address!r} is not an address") from None
    return w3.eth.contract(address=checksummed, abi=load_artifact("PorAnchor").abi)


def check_anchor(
    rpc_url: str,
    manifest: Manifest,
    document: Mapping[str, Any],
    manifest_raw: bytes,
    contract_address: str | None,
) -> str:
    """A pass detail, or `LogMismatchError` naming what the chain holds instead."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    previous = document.get("previous")
    prev_anchor = previous.get("anchor") if isinstance(previous, dict) else None
    if contract_address is None and isinstance(prev_anchor, dict):
        contract_address = str(prev_anchor.get("contract"))
    if contract_address is None:
        raise LogMismatchError(
            "no anchor contract known: the manifest names no previous anchor;"
            " pass --anchor-contract ADDRESS"
        )
    contract = _contract(w3, contract_address)
    sid = manifest.snapshot_id
    try:
        size, root, mhash, block = contract.functions.anchorOf(sid).call()
    except Exception as exc:  # web3 raises many types (connection refused, bad response)
        raise AuditInputError(f"anchor: cannot read {contract_address}: {exc}") from None
    if int(size) == 0:
        raise LogMismatchError(f"{sid} is not anchored on chain (not yet, or never)")
    own_hash = hashlib.sha256(manifest_raw).digest()
    if (
        int(size) != manifest.log.size
        or not hmac.compare_digest(bytes(root), manifest.log.root)
        or not hmac.compare_digest(bytes(mhash), own_hash)
    ):
        raise LogMismatchError(
            f"{sid} is anchored with log size {size}, root {bytes(root).hex()}, manifest"
            f" {bytes(mhash).hex()}; the bundle has {manifest.log.size},"
            f" {manifest.log.root.hex()}, {own_hash.hex()}"
        )
    detail = f"anchored at block {block} with this log head and manifest hash"
    if isinstance(prev_anchor, dict) and isinstance(previous, dict):
        tx = str(prev_anchor.get("tx"))
        try:
            receipt = w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
            events = contract.events.RootPublished().process_receipt(receipt)
        except Exception as exc:
            raise LogMismatchError(f"previous anchor tx {tx}: not found on chain: {exc}") from None
        named = [e for e in events if e["args"]["snapshotId"] == previous.get("snapshot_id")]
        if not named or receipt["status"] != 1:
            raise LogMismatchError(
                f"previous anchor tx {tx} emitted no RootPublished for"
                f" {previous.get('snapshot_id')!r}"
            )
        emitted = bytes(named[0]["args"]["manifestHash"]).hex()
        if emitted != previous.get("manifest_sha256"):
            raise LogMismatchError(
                f"previous anchor tx {tx} anchors manifest {emitted}, this manifest says"
                f" {previous.get('manifest_sha256')}"
            )
        detail += f"; previous hour's tx {tx[:12]}… anchors the manifest named here"
    return detail
