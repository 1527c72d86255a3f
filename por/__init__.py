"""Proof of reserves: Merkle sum tree, proofs, verifier, snapshot, publication."""
