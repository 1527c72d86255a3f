"""`por keys`: generate a 0600 key file without ever overwriting; print public keys."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import cli
from por.operator.signing import ENV_VAR, generate, load_signing_key


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["keys", *args], env=env)


def test_generate_writes_a_0600_key_and_prints_its_public_key(tmp_path: Path) -> None:
    out = tmp_path / "signing.key"
    result = run("generate", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert result.stdout == load_signing_key(out).public_key_hex + "\n"


def test_generate_refuses_to_overwrite_and_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "signing.key"
    assert run("generate", "--out", str(out)).exit_code == 0
    before = out.read_bytes()
    result = run("generate", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == f"por keys: {out}: already exists; refusing to overwrite a key file\n"
    assert out.read_bytes() == before, "the existing key is untouched"


def test_generate_into_a_missing_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run("generate", "--out", str(tmp_path / "no" / "such" / "k"))
    assert result.exit_code == 2
    assert "cannot create key file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_public_reads_a_file_or_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "k"
    printed = run("generate", "--out", str(out)).stdout
    assert run("public", "--key", str(out)).stdout == printed
    key = generate()
    from_env = run("public", env={ENV_VAR: key.seed_hex()})
    assert from_env.exit_code == 0 and from_env.stdout == key.public_key_hex + "\n"


def test_public_refuses_a_key_file_readable_by_others(tmp_path: Path) -> None:
    out = tmp_path / "k"
    run("generate", "--out", str(out))
    out.chmod(0o644)
    result = run("public", "--key", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        f"por keys: signing key file {out} has mode 0644; it must be 0600 "
        f"(readable by its owner only): run chmod 600 {out}\n"
    )


def test_every_keys_help_ends_with_examples() -> None:
    for args in ([], ["generate"], ["public"]):
        result = run(*args, "--help")
        assert result.exit_code == 0 and "Examples:\n" in result.stdout


def test_age_generate_writes_a_0600_identity_and_prints_the_recipient_it_opens(
    tmp_path: Path,
) -> None:
    from por.leaflist import identity_recipients, read_identities

    out = tmp_path / "auditor.key"
    result = run("age-generate", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert result.stdout == identity_recipients(read_identities(out))[0] + "\n"
    assert result.stdout.startswith("age1")
    before = out.read_bytes()
    again = run("age-generate", "--out", str(out))
    assert again.exit_code == 2 and again.stderr.count("\n") == 1
    assert "already exists" in again.stderr and out.read_bytes() == before
    assert "Examples:\n" in run("age-generate", "--help").stdout
