"""Local chains for tests, the demo and benchmarks: Anvil, deployments, LiteSVM + its RPC."""

from por.chain.anvil import Anvil
from por.chain.errors import ChainError

__all__ = ["Anvil", "ChainError"]
