"""por.audit.source.Site.lines (issue 17, item 10): linear in a line's length, every line
capped, and split across chunk boundaries exactly as `bytes.split(b"\\n")` would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.audit.errors import AuditInputError
from por.audit.source import MAX_SITE_LINE_BYTES, Site


class ChunkedSite(Site):
    """A site whose one file arrives in the given chunks (as a server may send it)."""

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__("/nowhere")
        self._chunks = chunks
        self.served = 0

    def _raw_chunks(self, relative: str, where: str) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.served += 1
            yield chunk


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\n")),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_lines_split_across_chunk_boundaries_exactly_like_bytes_split(
    data: bytes, cuts: list[int]
) -> None:
    want = data.split(b"\n")
    if want[-1] == b"":
        want.pop()  # a final line end ends the last line; it does not start an empty one
    got = list(ChunkedSite(_chunked(data, cuts)).lines("log/entries.jsonl"))
    assert got == want


def test_a_line_at_the_cap_passes_and_one_byte_more_is_refused_naming_the_line() -> None:
    ok = ChunkedSite([b"a\n", b"x" * 5, b"x" * 5, b"\nb"])
    assert list(ok.lines("f", line_limit=10)) == [b"a", b"x" * 10, b"b"]
    over = ChunkedSite([b"a\n", b"x" * 5, b"x" * 6, b"\nb"])
    with pytest.raises(AuditInputError, match=r"f: line 2 too long: expected at most 10 bytes"):
        list(over.lines("f", line_limit=10))


def test_an_endless_line_is_refused_once_it_passes_the_cap_not_at_its_end() -> None:
    site = ChunkedSite([b"y" * 1000] * 1000)
    with pytest.raises(AuditInputError, match="line 1 too long"):
        list(site.lines("f", line_limit=4096))
    assert site.served == 5, "stops at the chunk that passed the cap"


def test_the_default_line_cap_is_one_mib() -> None:
    assert MAX_SITE_LINE_BYTES == 1 << 20
    site = ChunkedSite([b"z" * (1 << 20), b"z"])
    with pytest.raises(AuditInputError, match="line 1 too long"):
        list(site.lines("f"))
