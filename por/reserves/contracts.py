"""The committed contract artifacts (compiled by scripts/compile-contracts.mjs).

Nothing is compiled or downloaded at run time: the reader needs Multicall3's runtime code
for its state-override path, and the chain helpers deploy the tokens and the anchor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from por.reserves.errors import ReservesError

__all__ = [
    "ARTIFACT_NAMES",
    "MULTICALL3_ADDRESS",
    "Artifact",
    "load_artifact",
]

# The canonical Multicall3 address on Ethereum mainnet and most EVM chains (mds1/multicall).
MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
ARTIFACT_NAMES = ("Multicall3", "PorAnchor", "PorToken")
_DIR = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True, slots=True)
class Artifact:
    """ABI and bytecode of one contract, as compiled by solc."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-hex
    deployed_bytecode: str  # runtime code, 0x-hex
    compiler_version: str
    source_sha256: str


@cache
def load_artifact(name: str) -> Artifact:
    """The committed artifact `por/reserves/artifacts/<name>.json`."""
    if name not in ARTIFACT_NAMES:
        raise ReservesError(f"unknown contract artifact {name!r}: expected one of {ARTIFACT_NAMES}")
    path = _DIR / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReservesError(f"cannot read contract artifact {path}: {exc}") from exc
    return Artifact(
        name=name,
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
        compiler_version=raw["compiler"]["version"],
        source_sha256=raw["sourceSha256"],
    )
