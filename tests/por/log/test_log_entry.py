"""Log entries: exactly the spec's three manifest fields, in canonical JSON."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from por.log import EntryError, entry_from_manifest, parse_entry


def test_an_entry_keeps_only_snapshot_assets_and_tree_root(vector: dict[str, Any]) -> None:
    manifest = vector["manifest"]
    entry = parse_entry(entry_from_manifest(manifest))
    assert json.loads(entry.data) == {
        "snapshot_id": manifest["snapshot_id"],
        "assets": manifest["assets"],
        "root": manifest["tree"]["root"],
    }
    assert entry.root_hash == manifest["tree"]["root"]["hash"]
    unsigned = {k: v for k, v in manifest.items() if k not in ("signature", "log")}
    assert entry_from_manifest(unsigned) == entry.data, "signature and log are not in the entry"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m.pop("tree"), "manifest.tree: expected an object"),
        (lambda m: m.update(snapshot_id=""), "snapshot_id: expected a non-empty string"),
        (lambda m: m.update(assets=[]), "assets: expected a non-empty list"),
        (lambda m: m["tree"]["root"].update(hash="XY" * 32), "root.hash: expected 64 lowercase"),
        (lambda m: m["tree"]["root"]["equity"].pop(), "root.equity: expected a list of"),
        (lambda m: m["tree"]["root"]["debt"].__setitem__(0, "01"), r"root.debt\[0\]: expected a"),
        (lambda m: m["tree"]["root"]["debt"].__setitem__(0, 5), r"root.debt\[0\]: expected a"),
        (
            lambda m: m["tree"]["root"]["equity"].__setitem__(1, str(1 << 128)),
            r"root.equity\[1\]: amount is not below 2\^128",
        ),
        (lambda m: m["tree"]["root"].update(extra="1"), "root: expected keys debt, equity, hash"),
        (lambda m: m["assets"][0].update(decimals=0.5), "float is not allowed"),
    ],
)
def test_malformed_manifests_have_no_entry(
    vector: dict[str, Any], mutate: Any, reason: str
) -> None:
    manifest = copy.deepcopy(vector["manifest"])
    mutate(manifest)
    with pytest.raises(EntryError, match=reason):
        entry_from_manifest(manifest)


def test_parse_entry_accepts_the_vector_entries_and_refuses_other_encodings(
    vector: dict[str, Any],
) -> None:
    for text in vector["log"]["entries"]:
        assert parse_entry(text.encode("utf-8")).data == text.encode("utf-8")
    data = vector["log"]["entries"][-1].encode("utf-8")
    pretty = json.dumps(json.loads(data), indent=1).encode("utf-8")
    with pytest.raises(EntryError, match="not in canonical JSON form"):
        parse_entry(pretty)
    with pytest.raises(EntryError, match="not UTF-8 JSON"):
        parse_entry(b"\xff")


def _huge_integer(entry: bytes) -> bytes:
    return entry.replace(b'"decimals":', b'"decimals":' + b"9" * 5000, 1)


def _deep_nesting(entry: bytes) -> bytes:
    return entry.replace(b'"snapshot_id":', b'"snapshot_id":' + b"[" * 10**5 + b"]" * 10**5 + b",")


@pytest.mark.parametrize("damage", [_huge_integer, _deep_nesting])
def test_parse_entry_refuses_a_huge_integer_or_deep_nesting_as_an_entry_error(
    vector: dict[str, Any], damage: Any
) -> None:
    """Fuzz regression (bench/fuzz_verify.py --target log --seed 1, case 48): a 5,000-digit
    integer in log/entries.jsonl passed Python's int-string limit's ValueError up through
    LogReplica.from_entries, so `verify log` crashed instead of refusing the line."""
    data = damage(vector["log"]["entries"][-1].encode("utf-8"))
    assert len(data) > 5000
    with pytest.raises(EntryError, match="^entry"):
        parse_entry(data)
