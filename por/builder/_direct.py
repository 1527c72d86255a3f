"""Streaming a partition file to disk without paying for the page cache.

Buffered writes of the level files cost more CPU than hashing them on ext4 (delayed
allocation and page-cache copies: ~1.8 s of CPU per GB measured here). Opening the file
with `O_DIRECT` hands aligned blocks straight to the device: almost no CPU, but the call
waits for the device, so a background thread does the writing while the caller goes on
hashing. Each `write` is one section of the file, zero-padded to `SECTION_ALIGN`; arrays
from `aligned_empty` go to the device as they are (no copy), others through a staging
buffer. Filesystems without `O_DIRECT` (tmpfs) get ordinary writes of the same bytes.
"""

from __future__ import annotations

import os
import queue
import threading
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from por.builder._layout import SECTION_ALIGN, padded

__all__ = ["ChunkFile", "StreamFile", "aligned_empty"]

_STAGE = 4 << 20
_Item = tuple[NDArray[np.uint8], int] | None
_Chunk = tuple[NDArray[np.uint8], int, threading.Event | None] | None


def aligned_empty(shape: tuple[int, ...]) -> NDArray[np.uint8]:
    """An uninitialised C-contiguous uint8 array starting on a SECTION_ALIGN boundary,
    whose buffer extends, zero-filled, to the padded section length."""
    nbytes = int(np.prod(shape))
    raw = np.empty(padded(nbytes) + SECTION_ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % SECTION_ALIGN
    raw[start + nbytes : start + padded(nbytes)] = 0
    return raw[start : start + nbytes].reshape(shape)


def _padded_block(data: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
    """`data` extended to its padded length, if it came from `aligned_empty`."""
    if not data.flags.c_contiguous or data.ctypes.data % SECTION_ALIGN:
        return None
    root = data
    while isinstance(root.base, np.ndarray):
        root = root.base
    if root.dtype != np.uint8 or root.ndim != 1 or not root.flags.c_contiguous:
        return None
    offset = data.ctypes.data - root.ctypes.data
    length = padded(data.nbytes)
    if offset < 0 or offset + length > root.nbytes:
        return None
    return root[offset : offset + length]


def _open_for_write(path: str | os.PathLike[str], direct: bool) -> tuple[int, bool]:
    """Create/truncate `path` for writing; with `O_DIRECT` when asked and the filesystem
    takes it (tmpfs does not: ordinary writes then). Returns (fd, whether direct)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    if direct and hasattr(os, "O_DIRECT"):
        try:
            return os.open(path, flags | os.O_DIRECT, 0o644), True
        except OSError:
            pass
    return os.open(path, flags, 0o644), False


class StreamFile:
    """Append-only writer of one file; use as a context manager.

    `write(data)` appends one section zero-padded to SECTION_ALIGN (the tree layout);
    `write(data, pad=False)` appends bytes back to back (a text stream). With
    `exact_size=True` the file is truncated at close to the bytes written, so a stream
    of unpadded writes leaves no padding behind.
    """

    def __init__(
        self, path: str | os.PathLike[str], direct: bool = True, exact_size: bool = False
    ) -> None:
        self._fd, self.direct = _open_for_write(path, direct)
        self._exact = exact_size
        self._size = 0
        self._stage: NDArray[np.uint8] | None = None
        self._fill = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._drain, name="por-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> StreamFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            block, length = item
            try:
                if self._error is None:
                    _write_all(self._fd, block[:length].data)
            except BaseException as exc:  # reported by write() / close()
                self._error = exc

    def _flush_stage(self) -> None:
        """Send the partial stage, zero-padded to a block."""
        if self._stage is not None and self._fill:
            end = padded(self._fill)
            self._stage[self._fill : end] = 0
            self._queue.put((self._stage, end))
            self._size += end - self._fill
        self._stage = None
        self._fill = 0

    def write(self, data: NDArray[np.uint8] | bytes, pad: bool = True) -> None:
        """Append the bytes of a C-contiguous array (or bytes)."""
        if self._error is not None:
            raise self._error
        if isinstance(data, bytes):
            flat = np.frombuffer(data, dtype=np.uint8)
        else:
            flat = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        block = _padded_block(flat) if pad and not self._fill else None
        if block is not None:
            self._queue.put((block, block.size))  # the array is never modified again
            self._size += block.size
            return
        pos = 0
        while pos < flat.size:
            if self._stage is None:
                self._stage = aligned_empty((_STAGE,))
            take = min(flat.size - pos, _STAGE - self._fill)
            self._stage[self._fill : self._fill + take] = flat[pos : pos + take]
            self._fill += take
            self._size += take
            pos += take
            if self._fill == _STAGE:
                self._queue.put((self._stage, _STAGE))
                self._stage = None
                self._fill = 0
        if pad:
            self._flush_stage()

    def close(self) -> None:
        if self._fd < 0:
            return
        logical = self._size
        try:
            try:
                self._flush_stage()
            finally:
                self._queue.put(None)
                self._thread.join()
            if self._error is not None:
                raise self._error
            if self._exact:
                os.ftruncate(self._fd, logical)
        finally:
            os.close(self._fd)
            self._fd = -1


class ChunkFile:
    """A file written in aligned chunks at given offsets by a background thread; use as a
    context manager (the file is complete when it exits).

    `pwrite(block, offset, done)` queues the write of `block` (from `aligned_empty`,
    whole pages, `offset` a multiple of SECTION_ALIGN) and returns at once; `done` is set
    when the writer no longer needs the block (also after an error, so nobody waits
    forever: `check()` then raises it).
    """

    def __init__(self, path: str | os.PathLike[str], direct: bool = True) -> None:
        self._fd, self.direct = _open_for_write(path, direct)
        self._error: BaseException | None = None
        self._queue: queue.SimpleQueue[_Chunk] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="por-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> ChunkFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            block, offset, done = item
            try:
                if self._error is None:
                    _pwrite_all(self._fd, block.data, offset)
            except BaseException as exc:  # reported by check() / close()
                self._error = exc
            finally:
                if done is not None:
                    done.set()

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def pwrite(
        self, block: NDArray[np.uint8], offset: int, done: threading.Event | None = None
    ) -> None:
        self.check()
        self._queue.put((block, offset, done))

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self._queue.put(None)
            self._thread.join()
            self.check()
        finally:
            os.close(self._fd)
            self._fd = -1


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)


def _write_all(fd: int, data: memoryview) -> None:
    done = 0
    while done < len(data):
        done += os.write(fd, data[done:])
