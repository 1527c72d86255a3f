"""Account shards: the snapshot's accounts on shared storage, for workers to read.

The sharded Dask build (`por.builder._sharded`) must not route accounts through its
client, so the snapshot job writes them once as shards: contiguous slices of the
columnar batch in input order, each a file of the project's own columnar layout (no
Parquet: pyarrow is not a dependency, and these files are read back only by this code),
written one at a time (`ShardWriter`: the writer holds one shard, not the snapshot), and
a manifest naming every shard with its first input index, its row count, its size
and its SHA-256. Workers check the checksum before using a shard: a shard missing,
truncated or altered is refused with one line naming it (`ShardError`).

    <dir>/shards.json          manifest, written last (temp + rename)
    <dir>/shard-NNNNN.bin      magic "PORSHD01" | u64 count | u64 assets | u64 id bytes
                               (little-endian) | id_offsets int64 (count + 1) |
                               nonces (count x 32) | amounts u64 (count, 2, A, 2) | ids
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from por.builder._batch import NONCE_BYTES, AccountBatch
from por.builder._errors import TreeInputError

__all__ = [
    "DEFAULT_SHARD_ACCOUNTS",
    "MANIFEST_NAME",
    "SHARDS_FORMAT",
    "ShardError",
    "ShardInfo",
    "ShardSet",
    "ShardWriter",
    "read_shard",
    "write_shards",
]

SHARDS_FORMAT = "por-account-shards/1"
MANIFEST_NAME = "shards.json"
DEFAULT_SHARD_ACCOUNTS = 1 << 18  # ~47 MB at 4 assets: several per worker at 1M accounts
_MAGIC = b"PORSHD01"
_HEADER = len(_MAGIC) + 24


class ShardError(TreeInputError):
    """A shard or its manifest cannot be used (missing, wrong size, checksum mismatch)."""


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """One manifest entry: accounts [first, first + count) of the snapshot."""

    index: int
    file: str
    first: int
    count: int
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ShardSet:
    """A manifest read from `directory`: the shards in input order."""

    directory: Path
    n_assets: int
    accounts: int
    shards: tuple[ShardInfo, ...]

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> ShardSet:
        path = Path(directory) / MANIFEST_NAME
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ShardError(f"shard manifest {path} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ShardError(f"shard manifest {path} is unreadable: {exc}") from None
        try:
            if meta["format"] != SHARDS_FORMAT:
                raise ShardError(
                    f"shard manifest {path}: format {meta['format']!r}, expected {SHARDS_FORMAT!r}"
                )
            shards = tuple(
                ShardInfo(
                    i,
                    str(s["file"]),
                    int(s["first"]),
                    int(s["count"]),
                    int(s["size"]),
                    str(s["sha256"]),
                )
                for i, s in enumerate(meta["shards"])
            )
            n_assets, accounts = int(meta["assets"]), int(meta["accounts"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ShardError):
                raise
            raise ShardError(f"shard manifest {path}: malformed ({exc!r})") from None
        first = 0
        for s in shards:
            if s.first != first or s.count < 0 or "/" in s.file or s.file.startswith("."):
                raise ShardError(f"shard manifest {path}: entry {s.index} is out of sequence")
            first += s.count
        if first != accounts:
            raise ShardError(f"shard manifest {path}: shards hold {first} accounts, not {accounts}")
        return cls(Path(directory), n_assets, accounts, shards)

    def locate(self, i: int) -> tuple[ShardInfo, int]:
        """The shard holding input index `i`, and `i`'s row in it."""
        firsts = [s.first for s in self.shards]
        k = int(np.searchsorted(np.asarray(firsts), i, side="right")) - 1
        shard = self.shards[k]
        return shard, i - shard.first

    def account_id(self, i: int) -> str:
        shard, row = self.locate(i)
        return read_shard(self, shard).account_id(row)


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.bin"


class ShardWriter:
    """Shards written one at a time, the manifest on `close()`: the snapshot job (or a
    generator) never holds more than one shard's accounts.

    Each shard is written to a temporary name, fsynced and renamed; the manifest last, so
    a directory with `shards.json` holds every shard it names.
    """

    def __init__(self, directory: str | os.PathLike[str], n_assets: int) -> None:
        self.directory = Path(directory)
        self.n_assets = n_assets
        self.directory.mkdir(parents=True, exist_ok=True)
        self._entries: list[dict[str, Any]] = []
        self._accounts = 0

    def add(self, part: AccountBatch) -> None:
        """Write `part` as the next shard (its accounts follow the previous shard's)."""
        if part.n_assets != self.n_assets:
            raise ValueError(f"shard has {part.n_assets} assets, expected {self.n_assets}")
        name = _shard_name(len(self._entries))
        digest = hashlib.sha256()
        size = 0
        tmp = self.directory / (name + ".tmp")
        with open(tmp, "wb") as fh:
            for chunk in _shard_chunks(part):
                digest.update(chunk)
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / name)
        self._entries.append(
            {
                "file": name,
                "first": self._accounts,
                "count": part.count,
                "size": size,
                "sha256": digest.hexdigest(),
            }
        )
        self._accounts += part.count

    def close(self) -> ShardSet:
        """Write the manifest (temp + rename) and return the shard set it names."""
        meta = {
            "format": SHARDS_FORMAT,
            "assets": self.n_assets,
            "accounts": self._accounts,
            "shards": self._entries,
        }
        tmp = self.directory / (MANIFEST_NAME + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.directory / MANIFEST_NAME)
        return ShardSet.open(self.directory)


def write_shards(
    batch: AccountBatch,
    directory: str | os.PathLike[str],
    shard_accounts: int = DEFAULT_SHARD_ACCOUNTS,
) -> ShardSet:
    """Write `batch` as shards of at most `shard_accounts` accounts and their manifest."""
    if shard_accounts < 1:
        raise ValueError(f"shard_accounts must be >= 1, got {shard_accounts}")
    writer = ShardWriter(directory, batch.n_assets)
    n = batch.count
    for lo in list(range(0, n, shard_accounts)) or [0]:
        writer.add(batch.slice(lo, min(n, lo + shard_accounts)))
    return writer.close()


def _shard_chunks(part: AccountBatch) -> list[bytes | memoryview]:
    header = _MAGIC + np.array([part.count, part.n_assets, len(part.ids)], dtype="<u8").tobytes()
    return [
        header,
        np.ascontiguousarray(part.id_offsets, dtype="<i8").data.cast("B"),
        np.ascontiguousarray(part.nonces).data.cast("B"),
        np.ascontiguousarray(part.amounts, dtype="<u8").data.cast("B"),
        part.ids,
    ]


def read_shard(shards: ShardSet, info: ShardInfo) -> AccountBatch:
    """Read one shard, checking its size and SHA-256 against the manifest first."""
    path = shards.directory / info.file
    where = f"shard {info.index} ({path})"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ShardError(f"{where} is missing") from None
    except OSError as exc:
        raise ShardError(f"{where} is unreadable: {exc.strerror or exc}") from None
    if len(data) != info.size:
        raise ShardError(f"{where}: {len(data)} bytes, the manifest says {info.size}")
    found = hashlib.sha256(data).hexdigest()
    if found != info.sha256:
        raise ShardError(
            f"{where}: checksum mismatch (sha256 {found}, the manifest says {info.sha256})"
        )
    return _parse(data, info, shards.n_assets, where)


def _parse(data: bytes, info: ShardInfo, n_assets: int, where: str) -> AccountBatch:
    if data[: len(_MAGIC)] != _MAGIC or len(data) < _HEADER:
        raise ShardError(f"{where}: not a shard file")
    count, assets, id_bytes = (int(v) for v in np.frombuffer(data, "<u8", 3, len(_MAGIC)))
    if count != info.count or assets != n_assets:
        raise ShardError(
            f"{where}: holds {count} accounts of {assets} assets, expected "
            f"{info.count} of {n_assets}"
        )
    pos = _HEADER
    offsets = np.frombuffer(data, "<i8", count + 1, pos)
    pos += 8 * (count + 1)
    nonces = np.frombuffer(data, np.uint8, count * NONCE_BYTES, pos).reshape(count, NONCE_BYTES)
    pos += count * NONCE_BYTES
    amounts = np.frombuffer(data, "<u8", count * 4 * n_assets, pos)
    pos += amounts.nbytes
    ids = data[pos : pos + id_bytes]
    if pos + id_bytes != len(data):
        raise ShardError(f"{where}: sections do not add up to the file size")
    return AccountBatch.from_arrays(
        ids,
        offsets.astype(np.int64),
        nonces,
        amounts.astype(np.uint64, copy=False).reshape(count, 2, n_assets, 2),
        n_assets,
    )
