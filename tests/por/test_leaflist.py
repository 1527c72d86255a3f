"""`por.leaflist`: the three modes, the signed field's strict reading, age keys, and the
streaming encryption and decryption of a leaf list."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from pyrage import x25519

from por.leaflist import (
    SEALED_NAME,
    LeafListDecryptError,
    LeafListError,
    LeafListPolicy,
    decrypted,
    from_manifest,
    identity_recipients,
    parse_recipient,
    read_identities,
    read_recipients_file,
    seal_file,
    write_identity_file,
)


def leaf_lines(n: int) -> bytes:
    return b"".join(
        b'{"debt":["0"],"equity":["%d"],"tag":"%064x"}\n' % (i * 7, i + 1) for i in range(n)
    )


def new_key(tmp_path: Path, name: str) -> tuple[Path, str]:
    path = tmp_path / name
    return path, write_identity_file(path)


def test_a_sealed_list_streams_back_to_the_same_bytes_for_every_recipient(tmp_path: Path) -> None:
    clear = tmp_path / "leaves.jsonl"
    clear.write_bytes(leaf_lines(200_000))  # ~13 MB: several age chunks and pipe fills
    keys = [new_key(tmp_path, f"a{i}.key") for i in range(3)]
    sealed = tmp_path / SEALED_NAME
    seal_file(clear, sealed, [r for _, r in keys])
    assert clear.read_bytes()[:200] not in sealed.read_bytes()
    for path, _ in keys:
        with decrypted(sealed, read_identities(path)) as stream:
            got = b"".join(iter(lambda s=stream: s.read(1 << 20), b""))  # type: ignore[misc]
        assert got == clear.read_bytes()


def test_an_identity_that_is_not_a_recipient_cannot_open_the_list(tmp_path: Path) -> None:
    clear = tmp_path / "leaves.jsonl"
    clear.write_bytes(leaf_lines(10))
    _, recipient = new_key(tmp_path, "auditor.key")
    seal_file(clear, tmp_path / "x.age", [recipient])
    stranger, _ = new_key(tmp_path, "stranger.key")
    with (
        pytest.raises(LeafListDecryptError, match="not encrypted to the given identity"),
        decrypted(tmp_path / "x.age", read_identities(stranger)) as stream,
    ):
        stream.read()


def test_a_truncated_ciphertext_raises_at_the_end_instead_of_reading_as_a_short_list(
    tmp_path: Path,
) -> None:
    clear = tmp_path / "leaves.jsonl"
    clear.write_bytes(leaf_lines(20_000))
    path, recipient = new_key(tmp_path, "auditor.key")
    seal_file(clear, tmp_path / "x.age", [recipient])
    whole = (tmp_path / "x.age").read_bytes()
    (tmp_path / "cut.age").write_bytes(whole[: len(whole) // 2])
    got = bytearray()
    with (
        pytest.raises(LeafListDecryptError, match="does not decrypt"),
        decrypted(tmp_path / "cut.age", read_identities(path)) as stream,
    ):
        while chunk := stream.read(1 << 16):
            got += chunk
    assert 0 < len(got) < len(clear.read_bytes()), "only authenticated chunks came through"


def test_leaving_the_stream_early_stops_the_decryption_thread(tmp_path: Path) -> None:
    clear = tmp_path / "leaves.jsonl"
    clear.write_bytes(leaf_lines(100_000))
    path, recipient = new_key(tmp_path, "auditor.key")
    seal_file(clear, tmp_path / "x.age", [recipient])
    before = threading.active_count()
    with decrypted(tmp_path / "x.age", read_identities(path)) as stream:
        assert stream.read(10) == clear.read_bytes()[:10]
    assert threading.active_count() == before


def test_write_identity_file_writes_age_keygen_format_0600_and_never_overwrites(
    tmp_path: Path,
) -> None:
    path, recipient = new_key(tmp_path, "auditor.key")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# created: ") and lines[1] == f"# public key: {recipient}"
    assert lines[2].startswith("AGE-SECRET-KEY-1") and len(lines) == 3
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert identity_recipients(read_identities(path)) == [recipient]
    with pytest.raises(LeafListError, match="already exists"):
        write_identity_file(path)
    assert path.read_text().splitlines() == lines


def test_an_identity_file_with_several_keys_and_comments_is_read_like_age_does(
    tmp_path: Path,
) -> None:
    one, two = x25519.Identity.generate(), x25519.Identity.generate()
    path = tmp_path / "keys.txt"
    path.write_text(f"# created: 2026-01-01T00:00:00Z\n\n{one}\n   # another\n{two}\n")
    assert identity_recipients(read_identities(path)) == [
        str(one.to_public()),
        str(two.to_public()),
    ]


def test_a_bad_identity_file_is_refused_without_quoting_its_secret(tmp_path: Path) -> None:
    secret = str(x25519.Identity.generate())
    damaged = secret[:-3] + ("qqq" if not secret.endswith("qqq") else "ppp")
    path = tmp_path / "bad.key"
    path.write_text(f"# a comment\n{damaged}\n")
    with pytest.raises(LeafListError, match="line 2: not a valid age X25519 identity") as info:
        read_identities(path)
    assert damaged not in str(info.value) and secret[:20] not in str(info.value)
    (tmp_path / "empty.key").write_text("# only comments\n")
    with pytest.raises(LeafListError, match="no age identity"):
        read_identities(tmp_path / "empty.key")
    with pytest.raises(LeafListError, match="cannot read"):
        read_identities(tmp_path / "missing.key")
    (tmp_path / "ssh.key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(LeafListError, match="expected an age X25519 identity"):
        read_identities(tmp_path / "ssh.key")


@pytest.mark.parametrize(
    "text",
    ["age1", "age1notbech32", "npub1xyz", "ssh-ed25519 AAAA", "", "age1 " + "q" * 58],
)
def test_a_malformed_recipient_is_refused_naming_what_was_given(text: str) -> None:
    with pytest.raises(LeafListError, match="age X25519 recipient") as info:
        parse_recipient(text, "--auditor")
    assert str(info.value).startswith("--auditor: ")


def test_a_recipient_is_kept_in_canonical_lower_case(tmp_path: Path) -> None:
    _, recipient = new_key(tmp_path, "a.key")
    assert parse_recipient(recipient.upper()) == recipient
    assert parse_recipient(f"  {recipient}\n") == recipient


def test_a_recipients_file_reads_one_per_line_with_comments(tmp_path: Path) -> None:
    keys = [new_key(tmp_path, f"a{i}.key")[1] for i in range(2)]
    path = tmp_path / "auditors.txt"
    path.write_text(f"# the auditors of 2026\n{keys[0]}\n\n{keys[1]}  \n")
    assert read_recipients_file(path) == keys
    path.write_text(f"{keys[0]}\nnot-a-key\n")
    with pytest.raises(LeafListError, match="auditors.txt line 2"):
        read_recipients_file(path)
    path.write_text("# nobody\n")
    with pytest.raises(LeafListError, match="no age recipient"):
        read_recipients_file(path)


def test_the_policy_refuses_auditors_without_recipients_and_recipients_without_auditors(
    tmp_path: Path,
) -> None:
    _, recipient = new_key(tmp_path, "a.key")
    with pytest.raises(LeafListError, match="at least one auditor"):
        LeafListPolicy("auditors")
    with pytest.raises(LeafListError, match="only used with leaf list mode auditors"):
        LeafListPolicy.of("public", [recipient])
    with pytest.raises(LeafListError, match="expected one of public, auditors, none"):
        LeafListPolicy("secret")


def test_the_manifest_field_round_trips_sorted_and_unique(tmp_path: Path) -> None:
    keys = sorted(new_key(tmp_path, f"a{i}.key")[1] for i in range(3))
    policy = LeafListPolicy.of("auditors", [keys[2], keys[0], keys[1], keys[0]])
    field = policy.to_json()
    assert field == {"mode": "auditors", "file": SEALED_NAME, "recipients": keys}
    assert from_manifest({"leaf_list": field}) == policy
    assert from_manifest({"leaf_list": LeafListPolicy("none").to_json()}).mode == "none"
    public = {"mode": "public", "file": "liabilities.jsonl"}
    assert from_manifest({"leaf_list": public}) == LeafListPolicy()


def test_a_manifest_without_the_field_is_public_iff_it_lists_the_clear_list() -> None:
    listed = {"bundle": {"files": {"liabilities.jsonl": {}, "index.html": {}}}}
    assert from_manifest(listed).mode == "public"
    assert from_manifest({"bundle": {"files": {"index.html": {}}}}).mode == "none"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("auditors", "expected an object"),
        ({"mode": "open"}, "leaf_list.mode"),
        ({"mode": "none", "file": "liabilities.jsonl"}, "leaf_list.file"),
        ({"mode": "public", "file": "other.jsonl"}, "leaf_list.file"),
        ({"mode": "auditors", "file": SEALED_NAME, "recipients": []}, "at least one auditor"),
        ({"mode": "auditors", "file": SEALED_NAME, "recipients": "age1"}, "list of age1"),
        ({"mode": "auditors", "file": SEALED_NAME, "recipients": ["x"]}, "recipient"),
        ({"mode": "none", "note": "x"}, "unknown fields"),
    ],
)
def test_a_malformed_manifest_field_is_refused(field: object, message: str) -> None:
    with pytest.raises(LeafListError, match=message):
        from_manifest({"leaf_list": field})


def test_unsorted_or_repeated_recipients_in_a_manifest_are_refused(tmp_path: Path) -> None:
    keys = sorted(new_key(tmp_path, f"a{i}.key")[1] for i in range(2))
    for recipients in ([keys[1], keys[0]], [keys[0], keys[0]], [keys[0].upper()]):
        field = {"mode": "auditors", "file": SEALED_NAME, "recipients": recipients}
        with pytest.raises(LeafListError, match="sorted, each once"):
            from_manifest({"leaf_list": field})
