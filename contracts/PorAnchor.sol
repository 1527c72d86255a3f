// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title PorAnchor
/// @notice On-chain anchor of the proof-of-reserves transparency log. After each hourly
///         publication the exchange's publisher key records the log head it signed.
///         Guarantees enforced here, so that anyone reading the events can rely on them:
///           - only the publisher fixed at deployment can anchor (no spoofed events);
///           - one root per snapshot id, ever: a second, different root for the same hour
///             (equivocation) is rejected on chain;
///           - the log only grows: logSize strictly increases from one anchor to the next.
/// @dev Types: snapshotId is the spec's snapshot id string (e.g. "2026-11-24T16:00:00Z");
///      logSize is the number of log entries after appending this snapshot (uint64, as in
///      RFC 9162 tree sizes); logRoot is the RFC 9162 root hash of the log at logSize;
///      manifestHash is SHA-256 of the signed manifest bytes.
contract PorAnchor {
    struct Anchor {
        uint64 logSize;
        uint64 blockNumber;
        bytes32 logRoot;
        bytes32 manifestHash;
    }

    address public immutable publisher;
    uint64 public lastLogSize;
    bytes32 public lastLogRoot;
    uint256 public anchorCount;

    mapping(bytes32 => Anchor) private anchors; // keccak256(bytes(snapshotId)) => anchor

    event RootPublished(string snapshotId, uint64 logSize, bytes32 logRoot, bytes32 manifestHash);

    error NotPublisher(address caller);
    error AlreadyPublished(string snapshotId, bytes32 logRoot, bytes32 manifestHash);
    error LogMustGrow(uint64 lastLogSize, uint64 logSize);
    error EmptySnapshotId();

    constructor(address publisher_) {
        publisher = publisher_;
    }

    /// @notice Anchor the log head after publishing `snapshotId`.
    function publish(string calldata snapshotId, uint64 logSize, bytes32 logRoot, bytes32 manifestHash)
        external
    {
        if (msg.sender != publisher) revert NotPublisher(msg.sender);
        if (bytes(snapshotId).length == 0) revert EmptySnapshotId();
        bytes32 key = keccak256(bytes(snapshotId));
        Anchor storage existing = anchors[key];
        if (existing.logSize != 0) {
            revert AlreadyPublished(snapshotId, existing.logRoot, existing.manifestHash);
        }
        if (logSize <= lastLogSize) revert LogMustGrow(lastLogSize, logSize);
        anchors[key] = Anchor(logSize, uint64(block.number), logRoot, manifestHash);
        lastLogSize = logSize;
        lastLogRoot = logRoot;
        anchorCount += 1;
        emit RootPublished(snapshotId, logSize, logRoot, manifestHash);
    }

    /// @notice The anchor of `snapshotId`; logSize == 0 means "not anchored".
    function anchorOf(string calldata snapshotId)
        external
        view
        returns (uint64 logSize, bytes32 logRoot, bytes32 manifestHash, uint64 blockNumber)
    {
        Anchor storage a = anchors[keccak256(bytes(snapshotId))];
        return (a.logSize, a.logRoot, a.manifestHash, a.blockNumber);
    }
}
