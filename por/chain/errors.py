"""Errors of the local-chain helpers (Anvil process, deployments, LiteSVM endpoint)."""

from __future__ import annotations

__all__ = ["ChainError"]


class ChainError(RuntimeError):
    """A local chain could not be started, reached or set up."""
