"""`por verify proof` and `por verify tree`: exit codes, one-line errors, output, fast start."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import cli
from por._canonical import canonical_json
from por._input import MAX_JSON_BYTES
from por.amounts import format_units
from por.builder.vectorgen import (
    make_snapshot,
    random_accounts,
    shared_vector_files,
    write_snapshot,
)
from por.manifest import public_key_bytes

FILES = shared_vector_files()
REPO = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["verify", *args], input=stdin, catch_exceptions=True)


def assert_one_line_exit(result: Result, code: int, words: str = "") -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit | None), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert words in lines[0], lines[0]


def write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=FILES, ids=[p.stem for p in FILES])
def vector_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    vector = json.loads(request.param.read_text(encoding="utf-8"))
    directory = tmp_path_factory.mktemp(request.param.stem)
    write(directory / "vector.json", vector)
    write(directory / "manifest.json", vector["manifest"])
    for i, proof in enumerate(vector["valid_proofs"]):
        write(directory / f"valid-{i}.json", proof)
    for i, entry in enumerate(vector["invalid_proofs"]):
        write(directory / f"invalid-{i}.json", entry["proof"])
    for i, entry in enumerate(vector["invalid_manifests"]):
        write(directory / f"bad-manifest-{i}.json", entry["manifest"])
    with open(directory / "leaves.jsonl", "wb") as stream:
        for leaf in vector["leaves"]:
            stream.write(canonical_json(leaf) + b"\n")
    return directory


def vector_of(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "vector.json").read_text(encoding="utf-8"))
    return data


def test_every_valid_vector_proof_exits_zero_with_its_amounts_in_human_units(
    vector_dir: Path,
) -> None:
    vector = vector_of(vector_dir)
    manifest = str(vector_dir / "manifest.json")
    key = vector["manifest"]["public_key"]
    for i, proof in enumerate(vector["valid_proofs"]):
        result = run(
            "proof",
            str(vector_dir / f"valid-{i}.json"),
            "--manifest",
            manifest,
            "--public-key",
            key,
        )
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        assert f"snapshot: {vector['snapshot_id']}" in result.stdout
        assert f"account: {proof['account_id']}" in result.stdout
        assert "(pinned)" in result.stdout
        for k, asset in enumerate(vector["assets"]):
            row = next(
                line for line in result.stdout.splitlines() if line.split()[:1] == [asset["symbol"]]
            )
            assert row.split()[1:] == [
                format_units(int(proof["leaf"]["equity"][k]), asset["decimals"]),
                format_units(int(proof["leaf"]["debt"][k]), asset["decimals"]),
                format_units(int(vector["root"]["equity"][k]), asset["decimals"]),
                format_units(int(vector["root"]["debt"][k]), asset["decimals"]),
            ]


def test_every_invalid_vector_proof_exits_one_naming_the_failed_check(vector_dir: Path) -> None:
    vector = vector_of(vector_dir)
    for i, entry in enumerate(vector["invalid_proofs"]):
        result = run(
            "proof",
            str(vector_dir / f"invalid-{i}.json"),
            "--manifest",
            str(vector_dir / "manifest.json"),
            "--public-key",
            vector["manifest"]["public_key"],
        )
        assert_one_line_exit(result, 1, "invalid: check ")
        assert result.stdout == "", entry["why"]


def test_every_invalid_vector_manifest_makes_a_valid_proof_exit_one(vector_dir: Path) -> None:
    vector = vector_of(vector_dir)
    for i in range(len(vector["invalid_manifests"])):
        result = run(
            "proof",
            str(vector_dir / "valid-0.json"),
            "--manifest",
            str(vector_dir / f"bad-manifest-{i}.json"),
            "--public-key",
            vector["manifest"]["public_key"],
        )
        assert_one_line_exit(
            result, 1, "invalid: check 5 (manifest) failed: manifest signature does not verify"
        )


def test_the_published_leaf_list_of_every_vector_verifies(vector_dir: Path) -> None:
    vector = vector_of(vector_dir)
    result = run(
        "tree", str(vector_dir / "leaves.jsonl"), "--manifest", str(vector_dir / "manifest.json")
    )
    assert result.exit_code == 0, result.stderr
    assert f"valid: {vector['leaf_count']} leaves rebuild the manifest's root" in result.stdout
    asset = vector["assets"][0]
    total = format_units(int(vector["root"]["equity"][0]), asset["decimals"])
    assert any(line.split()[:2] == [asset["symbol"], total] for line in result.stdout.splitlines())


# ---- a fresh snapshot signed by a fresh key ---------------------------------------------


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    vector, _ = make_snapshot("2026-12-01T00:00:00Z", random_accounts(random.Random(5), 6, 4))
    directory = tmp_path_factory.mktemp("fresh")
    write_snapshot(directory, vector)
    return directory, vector


def test_json_output_carries_the_amounts_and_totals(fresh: tuple[Path, dict[str, Any]]) -> None:
    directory, vector = fresh
    result = run(
        "proof",
        str(directory / "proofs/2.json"),
        "--manifest",
        str(directory / "manifest.json"),
        "--public-key",
        vector["manifest"]["public_key"],
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    proof = vector["valid_proofs"][2]
    assert out["valid"] is True and out["key_pinned"] is True
    assert out["account_id"] == proof["account_id"]
    assert out["leaf"] == {"tag": proof["leaf"]["tag"], "index": proof["leaf"]["index"]}
    assert [a["equity"] for a in out["assets"]] == proof["leaf"]["equity"]
    assert [a["total_debt"] for a in out["assets"]] == vector["root"]["debt"]
    assert out["assets"][1]["equity_units"] == format_units(int(proof["leaf"]["equity"][1]), 18)


def test_json_output_of_an_invalid_proof_names_the_check(
    fresh: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    directory, vector = fresh
    proof = json.loads(json.dumps(vector["valid_proofs"][0]))
    proof["root"]["equity"][0] = str(int(proof["root"]["equity"][0]) + 1)
    result = run(
        "proof",
        str(write(tmp_path / "p.json", proof)),
        "--manifest",
        str(directory / "manifest.json"),
        "--public-key",
        vector["manifest"]["public_key"],
        "--json",
    )
    assert_one_line_exit(result, 1, "check 4 (path to root)")
    assert json.loads(result.stdout) == {
        "valid": False,
        "check": 4,
        "error": result.stderr.strip()[len("invalid: ") :],
    }


def test_a_pinned_key_other_than_the_signers_makes_the_proof_invalid(
    fresh: tuple[Path, dict[str, Any]],
) -> None:
    directory, vector = fresh
    other = public_key_bytes(Ed25519PrivateKey.generate()).hex()
    args = [
        "proof",
        str(directory / "proofs/0.json"),
        "--manifest",
        str(directory / "manifest.json"),
    ]
    assert run(*args, "--public-key", vector["manifest"]["public_key"]).exit_code == 0
    assert_one_line_exit(run(*args, "--public-key", other), 1, f"expected pinned key {other}")


@pytest.mark.parametrize("key", ["", "abc", "zz" * 32, "00" * 33])
def test_a_malformed_pinned_key_is_a_usage_error(
    fresh: tuple[Path, dict[str, Any]], key: str
) -> None:
    directory, _ = fresh
    result = run(
        "proof",
        str(directory / "proofs/0.json"),
        "--manifest",
        str(directory / "manifest.json"),
        "--public-key",
        key,
    )
    assert_one_line_exit(result, 2, "error: public key: expected 64 hex digits")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not JSON"),
        (b'{"format": "por-proof/1", "leaf": ', "not JSON"),
        (b"\xff\xfe{}", "invalid UTF-8"),
        (b"NaN", "not JSON"),
    ],
)
def test_a_proof_file_that_is_not_json_exits_two(
    fresh: tuple[Path, dict[str, Any]], tmp_path: Path, content: bytes, words: str
) -> None:
    directory, vector = fresh
    (tmp_path / "p.json").write_bytes(content)
    manifest = str(directory / "manifest.json")
    key = vector["manifest"]["public_key"]
    result = run("proof", str(tmp_path / "p.json"), "--manifest", manifest, "--public-key", key)
    assert_one_line_exit(result, 2, words)


def test_unreadable_and_oversized_files_exit_two(
    fresh: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    directory, vector = fresh
    manifest = str(directory / "manifest.json")
    key = ("--public-key", vector["manifest"]["public_key"])
    assert_one_line_exit(
        run("proof", str(tmp_path / "missing.json"), "--manifest", manifest, *key),
        2,
        "cannot read",
    )
    assert_one_line_exit(
        run("proof", str(tmp_path), "--manifest", manifest, *key), 2, "cannot read"
    )
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as stream:
        stream.truncate(8 << 30)  # sparse: the verifier must not try to read it
    assert_one_line_exit(
        run("proof", str(huge), "--manifest", manifest, *key),
        2,
        f"at most {MAX_JSON_BYTES} bytes",
    )
    assert_one_line_exit(
        run("proof", str(directory / "proofs/0.json"), "--manifest", str(huge), *key),
        2,
        "too large",
    )


def test_a_missing_manifest_option_is_a_usage_error(fresh: tuple[Path, dict[str, Any]]) -> None:
    directory, vector = fresh
    key = vector["manifest"]["public_key"]
    result = run("proof", str(directory / "proofs/0.json"), "--public-key", key)
    assert result.exit_code == 2 and "Missing option '--manifest'" in result.stderr


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.sampled_from(["0", "por-proof/1"]),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(st.sampled_from(["format", "leaf", "path", "root", "q"]), c, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(value=json_values)
def test_any_json_that_is_not_a_valid_proof_exits_one_with_one_line(
    fresh: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory, value: Any
) -> None:
    directory, vector = fresh
    path = tmp_path_factory.mktemp("fuzz") / "p.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    key = vector["manifest"]["public_key"]
    assert_one_line_exit(
        run(
            "proof", str(path), "--manifest", str(directory / "manifest.json"), "--public-key", key
        ),
        1,
        "invalid: check 1",
    )


@settings(max_examples=40, deadline=None)
@given(value=json_values)
def test_any_json_that_is_not_a_manifest_exits_one_with_one_line(
    fresh: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory, value: Any
) -> None:
    directory, vector = fresh
    path = tmp_path_factory.mktemp("fuzz") / "m.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    key = vector["manifest"]["public_key"]
    assert_one_line_exit(
        run(
            "proof", str(directory / "proofs/0.json"), "--manifest", str(path), "--public-key", key
        ),
        1,
        "check 5",
    )
    assert_one_line_exit(
        run("tree", str(directory / "leaves.jsonl"), "--manifest", str(path)),
        1,
        "invalid: manifest",
    )


# ---- por verify tree -----------------------------------------------------------------------


def _lines(directory: Path) -> list[bytes]:
    return (directory / "leaves.jsonl").read_bytes().splitlines(keepends=True)


def test_the_leaf_list_can_come_from_stdin_and_json_output_has_the_totals(
    fresh: tuple[Path, dict[str, Any]],
) -> None:
    directory, vector = fresh
    result = run(
        "tree",
        "-",
        "--manifest",
        str(directory / "manifest.json"),
        "--json",
        stdin=b"".join(_lines(directory)),
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["valid"], out["leaf_count"], out["height"]) == (
        True,
        vector["leaf_count"],
        vector["height"],
    )
    assert out["root"] == vector["root"]["hash"]
    assert [a["total_equity"] for a in out["assets"]] == vector["root"]["equity"]


@pytest.mark.parametrize(
    ("edit", "code", "words"),
    [
        (lambda ls: ls[:-1], 1, "power of two"),
        (lambda ls: [ls[1], ls[0], *ls[2:]], 1, "strictly ascending"),
        (lambda ls: [ls[0], ls[0], *ls[2:]], 1, "repeats the previous tag"),
        (lambda ls: [ls[0].replace(b'"0"', b'"1"', 1), *ls[1:]], 1, "root"),
        (lambda ls: [ls[0].replace(b'"0"', b"0", 1), *ls[1:]], 1, "JSON number 0"),
        (lambda ls: [b"{}\n", *ls[1:]], 1, "line 1: missing field"),
        (lambda ls: [b"not json\n", *ls[1:]], 2, "line 1: not JSON"),
        (lambda ls: [ls[0], b"\n", *ls[1:]], 2, "line 2 is empty"),
        (lambda ls: [b" " * (2 << 20) + b"\n", *ls[1:]], 2, "line 1 too long"),
    ],
)
def test_a_damaged_leaf_list_is_rejected_with_one_line(
    fresh: tuple[Path, dict[str, Any]], tmp_path: Path, edit: Any, code: int, words: str
) -> None:
    directory, _ = fresh
    path = tmp_path / "leaves.jsonl"
    path.write_bytes(b"".join(edit(_lines(directory))))
    result = run("tree", str(path), "--manifest", str(directory / "manifest.json"))
    assert_one_line_exit(result, code, words)


def test_a_leaf_list_against_a_manifest_signed_by_another_pinned_key_is_invalid(
    fresh: tuple[Path, dict[str, Any]],
) -> None:
    directory, _ = fresh
    other = public_key_bytes(Ed25519PrivateKey.generate()).hex()
    result = run(
        "tree",
        str(directory / "leaves.jsonl"),
        "--manifest",
        str(directory / "manifest.json"),
        "--public-key",
        other,
    )
    assert_one_line_exit(result, 1, "expected pinned key")


def test_a_missing_leaf_list_exits_two(fresh: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    directory, _ = fresh
    result = run(
        "tree", str(tmp_path / "none.jsonl"), "--manifest", str(directory / "manifest.json")
    )
    assert_one_line_exit(result, 2, "No such file")


# ---- help and fast start -------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["proof"], ["tree"]])
def test_every_help_ends_with_examples(args: list[str]) -> None:
    result = run(*args, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith(("por verify", "gunzip"))


HEAVY = ("web3", "solana", "solders", "sqlalchemy", "dask", "numpy", "rich")
PRODUCER = ("por.operator", "por.builder", "por.snapshot", "por.publish")


def test_verify_proof_imports_no_producer_module_nor_chain_database_or_numeric_libraries(
    fresh: tuple[Path, dict[str, Any]],
) -> None:
    """The verifier's path loads the kernel only: no signing key, builder or publisher code."""
    directory, vector = fresh
    code = (
        "import json, sys\n"
        "from cli.main import cli\n"
        "try:\n"
        f"    cli.main(args=['verify', 'proof', {str(directory / 'proofs/0.json')!r},"
        f" '--manifest', {str(directory / 'manifest.json')!r},"
        f" '--public-key', {vector['manifest']['public_key']!r}], prog_name='por')\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        f"producer = sorted(m for m in sys.modules if m.startswith({PRODUCER!r}))\n"
        "print(json.dumps({'code': code, 'heavy': heavy, 'producer': producer}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": [], "producer": []}, done.stderr


def test_an_account_id_with_a_newline_is_quoted_so_it_cannot_forge_output_lines(
    tmp_path: Path,
) -> None:
    from por.model import AccountInput

    eve = AccountInput("eve\nvalid: everything", b"e" * 32, (1, 0, 0, 0), (0, 0, 0, 0))
    vector, _ = make_snapshot("2026-12-01T01:00:00Z", [eve])
    files = write_snapshot(tmp_path, vector)
    key = vector["manifest"]["public_key"]
    result = run(
        "proof", str(files.proofs[0]), "--manifest", str(files.manifest), "--public-key", key
    )
    assert result.exit_code == 0, result.stderr
    assert "account: 'eve\\nvalid: everything'" in result.stdout
    assert sum(line.startswith("valid:") for line in result.stdout.splitlines()) == 1


def test_a_proof_without_account_id_says_so(
    fresh: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    directory, vector = fresh
    proof = {k: v for k, v in vector["valid_proofs"][0].items() if k not in ("account_id", "nonce")}
    result = run(
        "proof",
        str(write(tmp_path / "p.json", proof)),
        "--manifest",
        str(directory / "manifest.json"),
        "--public-key",
        vector["manifest"]["public_key"],
    )
    assert result.exit_code == 0, result.stderr
    assert "account: (not named in this proof)" in result.stdout
