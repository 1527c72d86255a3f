"""`por verify proof` on proof sets (`por-proof-set/1`): one file, batches, --bundle/--log,
--history; every vector set and invalid set through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por.amounts import format_units
from por.builder.vectorgen import shared_vector_files
from tests.por.audit.sitegen import Site, make_site
from tests.por.test_vectors import EXPECTED_SET_REJECTION

SET_FILES = [
    path
    for path in shared_vector_files()
    if "proof_sets" in json.loads(path.read_text(encoding="utf-8"))
]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", "proof", *args])


def assert_one_line_exit(result: Result, code: int, words: str = "") -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit | None), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0], lines[0]


def write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=SET_FILES, ids=[p.stem for p in SET_FILES])
def set_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    vector = json.loads(request.param.read_text(encoding="utf-8"))
    directory = tmp_path_factory.mktemp(request.param.stem)
    write(directory / "vector.json", vector)
    write(directory / "manifest.json", vector["manifest"])
    for i, entry in enumerate(vector["proof_sets"]):
        write(directory / f"set-{i}.json", entry["set"])
    for i, entry in enumerate(vector["invalid_proof_sets"]):
        write(directory / f"bad-set-{i}.json", entry["set"])
    return directory


def vector_of(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "vector.json").read_text(encoding="utf-8"))
    return data


def test_the_vectors_have_proof_sets_to_run_through_the_command() -> None:
    assert SET_FILES, "no shared vector file has proof_sets"


def test_every_vector_proof_set_exits_zero_with_its_claim_in_human_units(set_dir: Path) -> None:
    vector = vector_of(set_dir)
    key = vector["manifest"]["public_key"]
    manifest = str(set_dir / "manifest.json")
    for i, entry in enumerate(vector["proof_sets"]):
        path = str(set_dir / f"set-{i}.json")
        result = run(path, "--manifest", manifest, "--public-key", key)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        pieces = len(entry["set"]["proofs"])
        out = result.stdout
        assert out.startswith("valid: the proof set holds against the signed manifest")
        assert f"account: {entry['account_id']}" in out
        assert f"pieces: {pieces} {'leaf' if pieces == 1 else 'leaves'} of" in out
        assert "(pinned)" in out and "names the account" in out
        for k, asset in enumerate(vector["assets"]):
            row = next(line for line in out.splitlines() if line.split()[:1] == [asset["symbol"]])
            assert row.split()[1:3] == [
                format_units(int(entry["claim"]["equity"][k]), asset["decimals"]),
                format_units(int(entry["claim"]["debt"][k]), asset["decimals"]),
            ]
        as_json = json.loads(
            run(path, "--manifest", manifest, "--public-key", key, "--json").stdout
        )
        assert as_json["valid"] is True and as_json["format"] == "por-proof-set/1"
        assert as_json["claim"] == entry["claim"]
        assert as_json["pieces"] == pieces == len(as_json["leaves"])
        assert as_json["account_id"] == entry["account_id"]
        assert [a["equity"] for a in as_json["assets"]] == entry["claim"]["equity"]


def test_every_invalid_vector_proof_set_exits_one_naming_the_set_check(set_dir: Path) -> None:
    vector = vector_of(set_dir)
    manifest = str(set_dir / "manifest.json")
    key = vector["manifest"]["public_key"]
    for i, entry in enumerate(vector["invalid_proof_sets"]):
        path = str(set_dir / f"bad-set-{i}.json")
        result = run(path, "--manifest", manifest, "--public-key", key)
        set_check, checks, words = EXPECTED_SET_REJECTION.get(entry["why"], (0, set(), ""))
        expected = f"invalid: set check {set_check} (" if set_check else "invalid: set check "
        assert_one_line_exit(result, 1, expected)
        assert words in result.stderr, (entry["why"], result.stderr)
        assert result.stdout == "", entry["why"]
        as_json = json.loads(
            run(path, "--manifest", manifest, "--public-key", key, "--json").stdout
        )
        assert as_json["valid"] is False, entry["why"]
        if set_check:
            assert as_json["set_check"] == set_check, (entry["why"], as_json)
            assert as_json["check"] in checks, (entry["why"], as_json)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"format": "por-proof-set/1", "proofs": [', "not JSON"),
        (b'{"format": "por-proof-set/1", "snapshot_id": "\\ud800"}', "lone surrogate"),
        (b'{"format": "por-proof-set/1", "proofs": [{"\\udfff": 1}]}', "lone surrogate"),
    ],
)
def test_a_set_file_that_is_not_json_text_exits_two_with_one_line(
    set_dir: Path, tmp_path: Path, content: bytes, words: str
) -> None:
    (tmp_path / "s.json").write_bytes(content)
    key = vector_of(set_dir)["manifest"]["public_key"]
    manifest = str(set_dir / "manifest.json")
    result = run(str(tmp_path / "s.json"), "--manifest", manifest, "--public-key", key)
    assert_one_line_exit(result, 2, words)
    assert result.stderr.startswith("error: ")


def test_a_batch_of_sets_and_single_proofs_reports_each_with_its_pieces(set_dir: Path) -> None:
    vector = vector_of(set_dir)
    manifest = str(set_dir / "manifest.json")
    single = write(set_dir / "single.json", vector["valid_proofs"][0])
    sets = [str(set_dir / f"set-{i}.json") for i in range(len(vector["proof_sets"]))]
    key = ("--public-key", vector["manifest"]["public_key"])
    good = run(*sets, str(single), "--manifest", manifest, *key)
    assert good.exit_code == 0, good.stderr
    first = len(vector["proof_sets"][0]["set"]["proofs"])
    assert f"valid    {sets[0]}  set of {first} piece" in good.stdout
    assert f"valid    {single}  leaf {vector['valid_proofs'][0]['leaf']['index']}" in good.stdout
    assert f"{len(sets) + 1} valid, 0 invalid" in good.stdout
    bad_set = str(set_dir / "bad-set-1.json")
    bad = run(sets[0], bad_set, "--manifest", manifest, *key, "--json")
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert [p["valid"] for p in report["proofs"]] == [True, False]
    assert report["proofs"][0]["claim"] == vector["proof_sets"][0]["claim"]
    assert report["proofs"][0]["pieces"] == first
    assert report["proofs"][1]["set_check"] is not None
    assert bad.stderr.startswith(f"invalid: 1 of 2 proofs failed; first: {bad_set}: set check")


def hour_sets(site: Site, tmp: Path, account: str) -> list[str]:
    dirs = []
    for sid in site.manifests:
        d = tmp / "hours" / sid.replace(":", "-")
        site.write_set(d, sid, account)
        shutil.copy(site.bundle(sid) / "manifest.json", d / "manifest.json")
        dirs.append(str(d))
    return dirs


def test_a_set_is_checked_against_the_log_with_log_and_with_bundle(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3, pieces={"bob": 3})
    sid = site.hour_id(1)
    path = str(site.write_set(tmp_path / "p", sid, "bob"))
    key = ["--public-key", site.public_key]
    entries = str(site.root / "log" / "entries.jsonl")
    by_log = run(
        path, "--manifest", str(site.bundle(sid) / "manifest.json"), "--log", entries, *key
    )
    assert by_log.exit_code == 0, by_log.stderr
    assert "pieces: 3 leaves of" in by_log.stdout
    assert "logged: entry 1 of the transparency log; its first 2 entries" in by_log.stdout
    by_bundle = run(path, "--bundle", str(site.bundle(sid)), *key, "--json")
    assert by_bundle.exit_code == 0, by_bundle.stderr
    report = json.loads(by_bundle.stdout)
    assert report["log"] == {"index": 1, "size": 2} and report["pieces"] == 3
    pieces = site.sets[(sid, "bob")]["proofs"]
    for side in ("equity", "debt"):
        assert report["claim"][side] == [
            str(sum(int(p["leaf"][side][k]) for p in pieces)) for k in range(2)
        ]


def test_history_follows_one_accounts_sets_across_hours_with_pieces_per_hour(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path / "site", 3, pieces={"carol": 4})
    dirs = hour_sets(site, tmp_path, "carol")
    entries = str(site.root / "log" / "entries.jsonl")
    result = run("--history", *reversed(dirs), "--public-key", site.public_key, "--log", entries)
    assert result.exit_code == 0, result.stderr
    assert "holds in all 3 hours and every hour's root is the logged one" in result.stdout
    assert "account: carol" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if "Z " in line]
    assert [r[-1] for r in rows] == ["4"] * 6, rows
    key = ("--public-key", site.public_key)
    report = json.loads(run("--history", *dirs, *key, "--json", "--log", entries).stdout)
    assert [h["pieces"] for h in report["hours"]] == [4, 4, 4]
    assert [h["log_index"] for h in report["hours"]] == [0, 1, 2]
    sid = site.hour_id(2)
    carol = site.sets[(sid, "carol")]["proofs"]
    btc = next(a for a in report["hours"][2]["assets"] if a["symbol"] == "BTC")
    assert btc["equity"] == str(sum(int(p["leaf"]["equity"][0]) for p in carol))


def test_history_accepts_a_set_in_one_hour_and_a_single_proof_in_another(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    dirs = hour_sets(site, tmp_path, "alice")
    d = Path(dirs[1])
    (d / "alice-set.json").unlink()
    site.write_proof(d, site.hour_id(1), "alice")
    result = run("--history", *dirs, "--public-key", site.public_key, "--json")
    assert result.exit_code == 0, result.stderr
    hours = json.loads(result.stdout)["hours"]
    assert hours[0]["pieces"] == 1 and "leaf" not in hours[0]
    assert "leaf" in hours[1] and "pieces" not in hours[1]


def test_history_refuses_sets_of_different_accounts(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2, pieces={"alice": 2, "carol": 2})
    dirs = hour_sets(site, tmp_path, "carol")
    d = Path(dirs[1])
    (d / "carol-set.json").unlink()
    site.write_set(d, site.hour_id(1), "alice")
    result = run("--history", *dirs, "--public-key", site.public_key)
    assert_one_line_exit(result, 1, "proof is for account 'alice', the others are for 'carol'")


def test_history_names_the_hour_and_piece_of_a_set_that_fails(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2, pieces={"carol": 3})
    dirs = hour_sets(site, tmp_path, "carol")
    path = Path(dirs[1]) / "carol-set.json"
    forged = json.loads(path.read_text())
    forged["proofs"][2]["leaf"]["equity"][0] = str(
        int(forged["proofs"][2]["leaf"]["equity"][0]) + 1
    )
    path.write_text(json.dumps(forged))
    result = run("--history", *dirs, "--public-key", site.public_key)
    assert_one_line_exit(
        result,
        1,
        f"invalid: set check 2 (every piece) failed: snapshot {site.hour_id(1)}: proofs[2]:"
        " check 4 (path to root) failed: root hash",
    )
    report = json.loads(run("--history", *dirs, "--public-key", site.public_key, "--json").stdout)
    assert (report["set_check"], report["element"], report["check"]) == (2, 2, 4)
