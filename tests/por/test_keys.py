"""Signing keys: mode 0600 files or POR_SIGNING_KEY, atomic no-overwrite writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from por.keys import SignatureError, SigningKeyError, verify_signature
from por.operator.signing import (
    ENV_VAR,
    generate,
    load_signing_key,
    resolve_signing_key,
    signing_key_from_env,
    write_key_file,
)


def test_a_written_key_file_has_mode_0600_and_loads_back(tmp_path: Path) -> None:
    key = generate()
    path = tmp_path / "signing.key"
    old = os.umask(0)  # even a permissive umask must not widen the file
    try:
        write_key_file(path, key)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == key.seed_hex() + "\n"
    assert load_signing_key(path).public_key_hex == key.public_key_hex
    assert [p.name for p in tmp_path.iterdir()] == ["signing.key"], "no temp file left"


def test_a_key_file_readable_by_others_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    write_key_file(path, generate())
    path.chmod(0o644)
    with pytest.raises(SigningKeyError) as info:
        load_signing_key(path)
    assert str(info.value) == (
        f"signing key file {path} has mode 0644; it must be 0600 "
        f"(readable by its owner only): run chmod 600 {path}"
    )
    path.chmod(0o400)
    with pytest.raises(SigningKeyError, match="has mode 0400; it must be 0600"):
        load_signing_key(path)


def test_key_files_that_are_missing_links_or_not_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="not found"):
        load_signing_key(tmp_path / "absent.key")
    real = tmp_path / "real.key"
    write_key_file(real, generate())
    (tmp_path / "link.key").symlink_to(real)
    with pytest.raises(SigningKeyError, match="is a symbolic link"):
        load_signing_key(tmp_path / "link.key")
    junk = tmp_path / "junk.key"
    junk.write_text("not a key\n")
    junk.chmod(0o600)
    with pytest.raises(SigningKeyError, match="expected 64 hex characters"):
        load_signing_key(junk)


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("precious")
    with pytest.raises(SigningKeyError, match="already exists; refusing to overwrite"):
        write_key_file(path, generate())
    assert path.read_text() == "precious"


def test_the_environment_variable_holds_a_hex_seed() -> None:
    key = generate()
    env = {ENV_VAR: key.seed_hex() + "\n"}
    from_env = signing_key_from_env(env)
    assert from_env is not None and from_env.public_key_hex == key.public_key_hex
    assert signing_key_from_env({}) is None
    assert resolve_signing_key(None, env).public_key_hex == key.public_key_hex
    with pytest.raises(SigningKeyError, match="no signing key: pass --key FILE"):
        resolve_signing_key(None, {})
    with pytest.raises(SigningKeyError, match=f"environment variable {ENV_VAR}: expected 64 hex"):
        signing_key_from_env({ENV_VAR: "zz" * 32})


def test_an_explicit_file_wins_over_the_environment(tmp_path: Path) -> None:
    in_file, in_env = generate(), generate()
    write_key_file(tmp_path / "k", in_file)
    chosen = resolve_signing_key(tmp_path / "k", {ENV_VAR: in_env.seed_hex()})
    assert chosen.public_key_hex == in_file.public_key_hex


def test_signatures_verify_only_under_the_signing_key() -> None:
    key = generate()
    signature = key.sign(b"message")
    verify_signature(key.public_key_hex, b"message", signature)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(key.public_key_hex, b"messagE", signature)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(generate().public_key_hex, b"message", signature)
    with pytest.raises(SignatureError, match="public key must be 64 hex characters"):
        verify_signature("ab", b"message", signature)
    with pytest.raises(SignatureError, match="signature must be 64 bytes"):
        verify_signature(key.public_key_hex, b"message", signature[:-1])
