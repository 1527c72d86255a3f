"""The fast leaf-list rebuild against the plain reference (`por.verify.fold_leaves`)."""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.audit import _leaflist
from por.audit._leaflist import fold_leaf_file
from por.builder.reference import build_tree
from por.errors import PorError, TreeError
from por.leaves import dump_leaves, read_leaves
from por.model import AccountInput
from por.verify import fold_leaves

SYMBOLS = ("BTC", "ETH", "SOL")


def leaf_file(count: int, seed: int, big: bool = False) -> tuple[bytes, object]:
    rng = random.Random(seed)
    top = 10**30 if big else 10**12
    accounts = []
    for i in range(count):
        equity, debt = [0, 0, 0], [0, 0, 0]
        for k in range(3):
            side = rng.randrange(3)
            if side == 1:
                equity[k] = rng.randrange(1, top)
            elif side == 2:
                debt[k] = rng.randrange(1, top)
        accounts.append(AccountInput(f"a{i}", rng.randbytes(32), tuple(equity), tuple(debt)))
    tree = build_tree("2026-11-24T16:00:00Z", list(SYMBOLS), accounts, filler_secret=b"s" * 32)
    out = io.BytesIO()
    dump_leaves(tree.leaves, out)
    return out.getvalue(), tree


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_leaflist, "CHUNK_LEAVES", 8)
    monkeypatch.setattr(_leaflist, "_READ_BYTES", 1000)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 70), seed=st.integers(0, 10**6), big=st.booleans())
def test_the_fast_rebuild_equals_the_reference_fold(count: int, seed: int, big: bool) -> None:
    data, tree = leaf_file(count, seed, big)
    fast = fold_leaf_file(io.BytesIO(data), SYMBOLS)
    assert fast == fold_leaves(tree.leaves, SYMBOLS)  # type: ignore[attr-defined]
    assert fast.root == tree.root  # type: ignore[attr-defined]


def test_chunks_and_blocks_smaller_than_the_tree_give_the_same_root(small_chunks: None) -> None:
    data, tree = leaf_file(100, 3, big=True)
    assert fold_leaf_file(io.BytesIO(data), SYMBOLS).root == tree.root  # type: ignore[attr-defined]


def test_lines_in_another_json_layout_take_the_strict_path_and_agree() -> None:
    data, tree = leaf_file(20, 4)
    spaced = data.replace(b'":', b'": ').replace(b",", b", ")
    assert fold_leaf_file(io.BytesIO(spaced), SYMBOLS).root == tree.root  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'["0"', b'["00"', "canonical"),
        (b'["0"', b'["-0"', "canonical"),
        (b'["0"', b'["+0"', "canonical"),
        (b'["0"', b'["0x0"', "canonical"),
        (b'["0"', b"[0", "JSON number"),
        (b'["0"', b'["340282366920938463463374607431768211456"', r"below 2\^128"),
        (b'"tag":"', b'"tag":"A', "hex"),
    ],
)
def test_a_non_canonical_amount_or_tag_is_rejected_naming_the_line(
    old: bytes, new: bytes, message: str
) -> None:
    data, _ = leaf_file(10, 5)
    bad = data.replace(old, new, 1)
    assert bad != data
    with pytest.raises(TreeError, match=message):
        fold_leaf_file(io.BytesIO(bad), SYMBOLS)


def test_duplicate_unsorted_and_counted_wrong_lists_are_rejected(small_chunks: None) -> None:
    data, _ = leaf_file(30, 6)
    lines = data.splitlines(keepends=True)
    with pytest.raises(TreeError, match="duplicate tag|repeats"):
        fold_leaf_file(io.BytesIO(b"".join(lines[:9] + [lines[8]] + lines[10:])), SYMBOLS)
    with pytest.raises(TreeError, match="ascending|out of order|below"):
        fold_leaf_file(io.BytesIO(b"".join([lines[1], lines[0], *lines[2:]])), SYMBOLS)
    with pytest.raises(TreeError, match="power of two"):
        fold_leaf_file(io.BytesIO(b"".join(lines[:-1])), SYMBOLS)
    with pytest.raises(TreeError, match="power of two"):
        fold_leaf_file(io.BytesIO(b""), SYMBOLS)


def test_a_leaf_with_equity_and_debt_in_one_asset_is_accepted_as_the_spec_says() -> None:
    # proof-format.md: "verifiers must not reject a leaf, a proof or a leaf list because
    # both are non-zero for one asset" (netting is a property of the ledger)
    data, _ = leaf_file(4, 7)
    line = b'{"debt":["5","0","0"],"equity":["5","0","0"],"tag":"' + b"0" * 64 + b'"}\n'
    lines = data.splitlines(keepends=True)
    both = line + b"".join(lines[1:])
    reference = fold_leaves(read_leaves(io.BytesIO(both), len(SYMBOLS)), SYMBOLS)
    assert fold_leaf_file(io.BytesIO(both), SYMBOLS) == reference


# -- issue 17 item 2: every line validated field by field, like the reference -------------
def _tag_of(line: bytes) -> bytes:
    return line.split(b'"tag":"')[1].split(b'"')[0]


def _with_tag(line: bytes, tag: bytes) -> bytes:
    return line.replace(_tag_of(line), tag, 1)


def _both_refuse(data: bytes) -> None:
    with pytest.raises(TreeError, match="tag"):
        fold_leaves(read_leaves(io.BytesIO(data), len(SYMBOLS)), SYMBOLS)
    with pytest.raises(TreeError, match="tag"):
        fold_leaf_file(io.BytesIO(data), SYMBOLS)


def test_fast_leaflist_rejects_62_and_66_char_tags() -> None:
    data, _ = leaf_file(10, 11)
    lines = data.splitlines(keepends=True)
    a, b = _tag_of(lines[3]), _tag_of(lines[4])
    # two characters moved from one tag to its neighbour: the joined tags are unchanged
    lines[3], lines[4] = _with_tag(lines[3], a[:62]), _with_tag(lines[4], a[62:] + b)
    assert len(_tag_of(lines[3])) == 62 and len(_tag_of(lines[4])) == 66
    _both_refuse(b"".join(lines))


def test_fast_leaflist_rejects_shifted_leading_zero() -> None:
    data, _ = leaf_file(200, 12, big=True)
    lines = data.splitlines(keepends=True)
    k = next(
        i for i in range(1, len(lines)) if _tag_of(lines[i])[:1] == b"0" != _tag_of(lines[i])[1:2]
    )
    prev, this = _tag_of(lines[k - 1]), _tag_of(lines[k])
    # this tag's leading "0" moved to the end of the previous one (65 and 63 characters) ...
    lines[k - 1], lines[k] = _with_tag(lines[k - 1], prev + b"0"), _with_tag(lines[k], this[1:])
    # ... and an amount given a leading zero, as in "024150000": the same value
    j = next(i for i, line in enumerate(lines) if b'"equity":["0"' not in line)
    lines[j] = lines[j].replace(b'"equity":["', b'"equity":["0', 1)
    assert b'"equity":["0' in lines[j]
    with pytest.raises(TreeError):
        fold_leaves(read_leaves(io.BytesIO(b"".join(lines)), len(SYMBOLS)), SYMBOLS)
    with pytest.raises(TreeError):
        fold_leaf_file(io.BytesIO(b"".join(lines)), SYMBOLS)


# -- differential: fast against the reference on malformed lists, and against the builder --
_NOISE = b'0123456789abcdefABCDEF"{}[],: \r\n-+.ex\\'


def _verdict(fold: Callable[[], object]) -> object:
    try:
        return fold()
    except PorError as exc:  # a rejection (TreeError, InputError, NotJSONError)
        return ("rejected", isinstance(exc, PorError))


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    data, _ = leaf_file(draw(st.sampled_from([2, 8, 16])), draw(st.integers(0, 50)), True)
    lines = data.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["byte", "shift", "zero", "amount", "lines", "tag"]))
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        if kind == "byte":
            at = draw(st.integers(0, len(line)))
            cut = draw(st.integers(0, 2))
            lines[i] = (
                line[:at]
                + draw(
                    st.binary(max_size=2).map(lambda b: bytes(_NOISE[x % len(_NOISE)] for x in b))
                )
                + line[at + cut :]
            )
        elif kind == "shift" and i + 1 < len(lines):  # k characters between neighbour tags
            if b'"tag":"' not in line or b'"tag":"' not in lines[i + 1]:
                continue  # an earlier mutation broke the field
            a, b = _tag_of(line), _tag_of(lines[i + 1])
            k = draw(st.integers(-3, 3))
            if len(a) == len(b) == 64 and k:
                a2, b2 = (a[:k], a[k:] + b) if k > 0 else (a + b[:-k], b[-k:])
                lines[i], lines[i + 1] = _with_tag(line, a2), _with_tag(lines[i + 1], b2)
        elif kind == "zero":  # a leading zero before some amount
            spots = [m for m in range(len(line) - 1) if line[m : m + 2] in (b'["', b',"')]
            if spots:
                m = draw(st.sampled_from(spots)) + 2
                lines[i] = line[:m] + b"0" + line[m:]
        elif kind == "amount":
            value = draw(st.sampled_from([2**128, 2**128 - 1, 2**64, 2**64 - 1, 10**39, 0]))
            lines[i] = re.sub(rb'\["[0-9]+"', b'["' + str(value).encode() + b'"', line, count=1)
        elif kind == "lines":
            j = draw(st.integers(0, len(lines) - 1))
            op = draw(st.sampled_from(["swap", "dup", "drop"]))
            if op == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            elif op == "dup":
                lines.insert(j, line)
            elif len(lines) > 1:
                del lines[i]
        elif b'"tag":"' in line:  # a tag of another length or case
            tag = _tag_of(line)
            lines[i] = _with_tag(line, draw(st.sampled_from([tag[:-1], tag + b"a", tag.upper()])))
    return b"".join(lines)


@settings(max_examples=150, deadline=None)
@given(data=malformed(), small=st.booleans())
def test_fast_and_reference_give_the_same_verdict_on_malformed_lists(
    data: bytes, small: bool
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        if small:
            mp.setattr(_leaflist, "CHUNK_LEAVES", 4)
            mp.setattr(_leaflist, "_READ_BYTES", 700)
        fast = _verdict(lambda: fold_leaf_file(io.BytesIO(data), SYMBOLS))
    reference = _verdict(lambda: fold_leaves(read_leaves(io.BytesIO(data), len(SYMBOLS)), SYMBOLS))
    assert fast == reference


@settings(max_examples=20, deadline=None)
@given(count=st.integers(1, 300), seed=st.integers(0, 10**6), big=st.booleans())
def test_fast_rebuild_equals_the_builder(count: int, seed: int, big: bool) -> None:
    from por.builder import LeafBatch, build_tree_from_leaves

    data, tree = leaf_file(count, seed, big)
    leaves = tree.leaves  # type: ignore[attr-defined]
    batch = LeafBatch.from_strings([(x.tag, x.equity, x.debt) for x in leaves], len(SYMBOLS))
    built = build_tree_from_leaves(batch, SYMBOLS, "2026-11-24T16:00:00Z")
    fast = fold_leaf_file(io.BytesIO(data), SYMBOLS)
    assert (fast.root, fast.height) == (built.root, built.height)


def test_pieces_several_leaves_of_one_account_fold_like_the_reference() -> None:
    # one account split into pieces is several ordinary leaves (spec, Pieces)
    rng = random.Random(9)
    sid = "2026-11-24T16:00:00Z"
    accounts = [
        AccountInput(f"a{i // 3}#{i % 3}", rng.randbytes(32), (i, 0, 2**100), (0, i, 0))
        for i in range(30)
    ]
    tree = build_tree(sid, list(SYMBOLS), accounts, filler_secret=b"s" * 32)
    out = io.BytesIO()
    dump_leaves(tree.leaves, out)
    assert fold_leaf_file(io.BytesIO(out.getvalue()), SYMBOLS).root == tree.root


def test_the_auditors_rebuild_imports_no_builder_module() -> None:
    code = (
        "import io, sys; from por.audit._leaflist import fold_leaf_file;"
        "fold_leaf_file(io.BytesIO(sys.stdin.buffer.read()), ('BTC', 'ETH', 'SOL'));"
        "print(sorted(m for m in sys.modules if m.startswith('por.builder')))"
    )
    data, _ = leaf_file(5, 1)
    done = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert done.stdout.strip() == b"[]"
