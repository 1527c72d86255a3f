"""`por log`: head, prove, entry and append over a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from por.log import ConsistencyProof, InclusionProof, verify_head
from por.operator.signing import ENV_VAR, generate, write_key_file
from tests.pg_schema import fresh_schema

REPO = Path(__file__).resolve().parents[2]
VECTORS = Path(os.environ.get("POR_SHARED_VECTORS") or REPO.parent / "shared" / "vectors")


def _vector() -> dict[str, Any]:
    files = sorted(VECTORS.glob("*.json"))
    if not files:
        raise RuntimeError(f"no test vectors found in {VECTORS} (set POR_SHARED_VECTORS)")
    data: dict[str, Any] = json.loads(files[0].read_text(encoding="utf-8"))
    return data


VECTOR = _vector()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'por-log.db'}"
        return
    yield from fresh_schema(
        "por_log_cli_", "POR_TEST_DATABASE_URL is not set: no PostgreSQL to test against"
    )


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["log", *args], env=env)


@pytest.fixture
def loaded(db: str, tmp_path: Path) -> str:
    """The vector's log: all entries but the last from entries.jsonl, the last via manifest."""
    entries = tmp_path / "entries.jsonl"
    entries.write_text("".join(e + "\n" for e in VECTOR["log"]["entries"][:-1]), "utf-8")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(VECTOR["manifest"]), "utf-8")
    first = run("append", "--entries", str(entries), "--db", db)
    assert first.exit_code == 0, first.stderr
    second = run("append", str(manifest), "--db", db)
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout) == VECTOR["manifest"]["log"]
    return db


def test_head_prints_the_vector_log_size_and_root(loaded: str) -> None:
    result = run("head", "--db", loaded)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"format": "por-log-head/1", **VECTOR["manifest"]["log"]}


def test_a_signed_head_verifies_under_the_pinned_key(loaded: str) -> None:
    key = generate()
    result = run("head", "--sign", "--db", loaded, env={ENV_VAR: key.seed_hex()})
    assert result.exit_code == 0, result.stderr
    head = verify_head(json.loads(result.stdout), [key.public_key_hex])
    assert (head.size, head.root.hex()) == (
        VECTOR["manifest"]["log"]["size"],
        VECTOR["manifest"]["log"]["root"],
    )


def test_prove_prints_the_vector_consistency_proofs(loaded: str) -> None:
    for case in VECTOR["log"]["consistency"]:
        sizes = ["--from", str(case["first"]), "--to", str(case["second"])]
        result = run("prove", *sizes, "--db", loaded)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == case
    latest = run("prove", "--from", "1", "--db", loaded)
    proof = ConsistencyProof.from_json(json.loads(latest.stdout))
    roots = [bytes.fromhex(r) for r in VECTOR["log"]["roots"]]
    proof.verify(roots[0], roots[-1])


def test_entry_prints_the_logged_line_and_its_inclusion_proof(loaded: str) -> None:
    result = run("entry", "0", "--db", loaded)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == VECTOR["log"]["entries"][0] + "\n"
    with_proof = run("entry", "2", "--proof", "--db", loaded)
    doc = json.loads(with_proof.stdout)
    assert doc["root"] == VECTOR["manifest"]["log"]["root"]
    InclusionProof.from_json(doc).verify(bytes.fromhex(doc["root"]))


def test_appending_a_manifest_whose_log_disagrees_appends_nothing_and_exits_1(
    db: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(VECTOR["manifest"]), "utf-8")
    result = run("append", str(manifest), "--db", db)  # into an empty log: size 1, not 4
    assert result.exit_code == 1
    assert "manifest says log" in result.stderr and "nothing appended" in result.stderr
    assert json.loads(run("head", "--db", db).stdout)["size"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["entry", "9"], "no entry 9: the log has 4 entries (0 to 3)"),
        (["prove", "--from", "5"], "no consistency proof from size 5 to size 4"),
        (["prove", "--from", "1", "--to", "7"], "log size 7 out of range: the log has 4 entries"),
        (["prove", "--from", "0"], "no consistency proof from size 0"),
        (["head", "--sign"], "no signing key: pass --key FILE (mode 0600) or set POR_SIGNING_KEY"),
    ],
)
def test_bad_requests_exit_2_with_one_line(loaded: str, args: list[str], message: str) -> None:
    result = run(*args, "--db", loaded, env={ENV_VAR: ""})
    assert result.exit_code == 2
    assert result.stderr.strip() == f"por log: {message}" or message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unreadable_inputs_exit_2_with_one_line(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    lines = tmp_path / "entries.jsonl"
    lines.write_text('{"snapshot_id": "x"}\n')
    key = tmp_path / "open.key"
    write_key_file(key, generate())
    key.chmod(0o644)
    for args, message in [
        (["append", str(bad)], "bad.json: not JSON"),
        (["append", str(tmp_path / "absent.json")], "absent.json: No such file"),
        (["append", "--entries", str(lines)], "entries.jsonl:1: entry: expected exactly the keys"),
        (["append"], "nothing to append"),
        (["head", "--key", str(key)], "has mode 0644; it must be 0600"),
    ]:
        result = run(*args, "--db", db)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, POR_LOG_DATABASE_URL="postgresql://nobody:secret@127.0.0.1:1/none")
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "log", "head"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("por log: cannot open log database postgresql://nobody:***@")
    assert "secret" not in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_every_log_help_ends_with_examples() -> None:
    for args in ([], ["head"], ["prove"], ["entry"], ["append"]):
        result = run(*args, "--help")
        assert result.exit_code == 0
        assert "Examples:\n" in result.stdout and "por log" in result.stdout.split("Examples:")[1]
