"""Reading a published site: a local directory or an http(s) URL, with bounded sizes.

The edge between the network or disk and the pure checks. Every read names the file and
is capped (`limit` bytes), so a hostile server cannot make the auditor's machine read
without end. URLs are fetched with httpx, imported only when a URL is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from por.audit.errors import AuditInputError

__all__ = ["MAX_SITE_FILE_BYTES", "MAX_SITE_LINE_BYTES", "Site", "open_site"]

MAX_SITE_FILE_BYTES = 1 << 30  # entries.jsonl of 100,000 hours is ~50 MiB; 1 GiB is a hard cap
MAX_SITE_LINE_BYTES = 1 << 20  # one log entry is ~500 bytes; a longer line is not one of ours
_HTTP_TIMEOUT_S = 30.0  # float-ok: seconds, not money


class Site:
    """Files of one published site, by their path relative to its root (`log/head.json`)."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._is_url = location.startswith(("http://", "https://"))
        self._client: Any = None

    @property
    def is_url(self) -> bool:
        return self._is_url

    def describe(self, relative: str) -> str:
        if self._is_url:
            return self.location.rstrip("/") + "/" + relative
        return os.fspath(Path(self.location) / relative)

    def exists(self, relative: str) -> bool:
        if not self._is_url:
            return (Path(self.location) / relative).is_file()
        try:
            self.read(relative, 1 << 20)
        except AuditInputError:
            return False
        return True

    def read(self, relative: str, limit: int = MAX_SITE_FILE_BYTES) -> bytes:
        """The file's bytes; `AuditInputError` if missing, unreadable or over `limit`."""
        return b"".join(self.chunks(relative, limit))

    def chunks(self, relative: str, limit: int = MAX_SITE_FILE_BYTES) -> Iterator[bytes]:
        where = self.describe(relative)
        total = 0
        for chunk in self._raw_chunks(relative, where):
            total += len(chunk)
            if total > limit:
                raise AuditInputError(f"{where}: too large: expected at most {limit} bytes")
            yield chunk

    def lines(
        self,
        relative: str,
        limit: int = MAX_SITE_FILE_BYTES,
        line_limit: int = MAX_SITE_LINE_BYTES,
    ) -> Iterator[bytes]:
        """The file's lines without their line ends, streamed, in time linear in the file.

        A line's pieces are kept until its end arrives and joined once (re-scanning a
        growing line for each chunk made one 128 MiB line cost 14.5 s); a line longer
        than `line_limit` bytes is refused as soon as that many bytes of it arrived.
        """
        where = self.describe(relative)
        number = 0  # lines completed
        parts: list[bytes] = []  # the unfinished line's pieces
        held = 0  # their length

        def too_long(line: int) -> AuditInputError:
            return AuditInputError(
                f"{where}: line {line} too long: expected at most {line_limit} bytes, got more"
            )

        for chunk in self.chunks(relative, limit):
            pieces = chunk.split(b"\n")
            last = pieces.pop()
            if pieces:
                first = pieces[0]
                if held + len(first) > line_limit:
                    raise too_long(number + 1)
                if parts:
                    parts.append(first)
                    pieces[0] = b"".join(parts)
                    parts = []
                if max(map(len, pieces)) > line_limit:
                    raise too_long(number + 1 + next(
                        i for i, piece in enumerate(pieces) if len(piece) > line_limit
                    ))  # fmt: skip
                number += len(pieces)
                held = 0
                yield from pieces
            if last:
                held += len(last)
                if held > line_limit:
                    raise too_long(number + 1)
                parts.append(last)
        if parts:
            yield b"".join(parts)

    def _raw_chunks(self, relative: str, where: str) -> Iterator[bytes]:
        if not self._is_url:
            try:
                with open(Path(self.location) / relative, "rb") as stream:
                    while chunk := stream.read(1 << 20):
                        yield chunk
            except OSError as exc:
                raise AuditInputError(f"{where}: cannot read: {exc.strerror or exc}") from None
            return
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=_HTTP_TIMEOUT_S, follow_redirects=False)
        try:
            with self._client.stream("GET", where) as response:
                if response.status_code != 200:
                    raise AuditInputError(f"{where}: HTTP {response.status_code}")
                yield from response.iter_bytes(1 << 20)
        except httpx.HTTPError as exc:
            raise AuditInputError(f"{where}: cannot fetch: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def open_site(location: str) -> Site:
    """A site from a directory path or an http(s) URL; a missing directory is refused."""
    site = Site(location)
    if not site.is_url and not Path(location).is_dir():
        raise AuditInputError(f"{location}: not a directory (expected a published site)")
    return site
