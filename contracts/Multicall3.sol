// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Multicall3 (minimal compatible subset)
/// @notice Implements the functions of the canonical Multicall3
///         (0xcA11bde05977b3631167028862bE2a173976CA11, mds1/multicall) that the reserve
///         reader uses, with the same selectors and ABI: `aggregate3`, `getEthBalance`,
///         `getBlockNumber`, `getBlockHash`, `getLastBlockHash`, `getCurrentBlockTimestamp`,
///         `getChainId`. A reader written against this contract works unchanged against
///         the canonical deployment on mainnet.
contract Multicall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Call every target in order; revert if a call with allowFailure == false fails.
    function aggregate3(Call3[] calldata calls) public payable returns (Result[] memory returnData) {
        uint256 length = calls.length;
        returnData = new Result[](length);
        for (uint256 i = 0; i < length; ++i) {
            Call3 calldata calli = calls[i];
            Result memory result = returnData[i];
            (result.success, result.returnData) = calli.target.call(calli.callData);
            if (!calli.allowFailure && !result.success) {
                revert("Multicall3: call failed");
            }
        }
    }

    function getEthBalance(address addr) public view returns (uint256 balance) {
        balance = addr.balance;
    }

    function getBlockNumber() public view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }

    function getBlockHash(uint256 blockNumber) public view returns (bytes32 blockHash) {
        blockHash = blockhash(blockNumber);
    }

    function getLastBlockHash() public view returns (bytes32 blockHash) {
        unchecked {
            blockHash = blockhash(block.number - 1);
        }
    }

    function getCurrentBlockTimestamp() public view returns (uint256 timestamp) {
        timestamp = block.timestamp;
    }

    function getChainId() public view returns (uint256 chainid) {
        chainid = block.chainid;
    }
}
