"""How an hour's leaf list is published: in clear, encrypted for the auditors, or withheld.

The leaf list (`liabilities.jsonl`: every leaf of the tree in order, `{"debt","equity",
"tag"}` per line) lets anyone rebuild the tree and so check the signed root and totals; it
also shows everyone the distribution of balances. The operator picks one mode per hour:

    public    liabilities.jsonl in the bundle, for everyone
    auditors  liabilities.jsonl.age in the bundle: the same bytes encrypted with age
              (https://age-encryption.org/v1, X25519) to the auditors' public keys
              ("age1..." recipients); only they can rebuild the tree
    none      no leaf list at all; the root and its totals are still signed and logged,
              users' proofs still verify, but nobody can rebuild the tree

The mode is stated in the signed manifest, field `leaf_list`:

    {"mode": "public",   "file": "liabilities.jsonl"}
    {"mode": "auditors", "file": "liabilities.jsonl.age", "recipients": ["age1...", ...]}
    {"mode": "none"}

Fields: `mode` (one of MODES); `file` the bundle file holding the list (listed with its
SHA-256 in `bundle.files` like every file; absent for none); `recipients` (auditors only)
the age X25519 recipients the list is encrypted to, in canonical lower-case Bech32,
sorted, unique, 1 to RECIPIENTS_MAX. Guarantees: signed like every manifest field, so the
exchange cannot later deny which auditors could read an hour, nor swap the list. A
manifest without the field (published before it existed) is read as public when it lists
liabilities.jsonl and as withheld otherwise (`from_manifest`).

Keys: an auditor makes an identity with `age-keygen -o FILE` or `por keys age-generate
--out FILE` (same file format) and gives the exchange the printed recipient. pyrage (the
age binding) is imported only where encryption or decryption happens.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from por.errors import InputError, PorError

if TYPE_CHECKING:
    from pyrage.x25519 import Identity

__all__ = [
    "CLEAR_NAME",
    "MODES",
    "RECIPIENTS_MAX",
    "SEALED_NAME",
    "LeafListDecryptError",
    "LeafListError",
    "LeafListPolicy",
    "decrypted",
    "from_manifest",
    "identity_recipients",
    "parse_recipient",
    "read_identities",
    "read_recipients_file",
    "seal_file",
    "seal_snapshot_leaves",
    "write_identity_file",
]

MODES = ("public", "auditors", "none")
CLEAR_NAME = "liabilities.jsonl"
SEALED_NAME = "liabilities.jsonl.age"
RECIPIENTS_MAX = 64  # age has no limit; a bundle naming more readers than this is a mistake
_KEY_FILE_MAX_BYTES = 64 * 1024
_READ_BYTES = 1 << 24
_RECIPIENT_PREFIX = "age1"
_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


class LeafListError(InputError):
    """An unusable leaf-list choice or key: bad mode, malformed recipient, unreadable
    identity file, auditors without recipients (exit 2)."""


class LeafListDecryptError(PorError):
    """The published encrypted list does not decrypt with a key it claims to be for."""


def parse_recipient(text: str, where: str = "recipient") -> str:
    """An age X25519 recipient in canonical form (`age1` + lower-case Bech32)."""
    from pyrage import RecipientError, x25519

    value = text.strip()
    if not value.lower().startswith(_RECIPIENT_PREFIX) or any(c.isspace() for c in value):
        raise LeafListError(f"{where}: expected an age X25519 recipient age1..., got {text!r}")
    try:
        parsed = x25519.Recipient.from_str(value)
    except (RecipientError, ValueError) as exc:
        raise LeafListError(f"{where}: not an age X25519 recipient ({exc}): {text!r}") from None
    return str(parsed)


def read_recipients_file(path: str | os.PathLike[str]) -> list[str]:
    """Recipients from a file in age's `-R` format: one per line, `#` comments, blanks."""
    out = []
    for number, line in _key_lines(path, "recipients file"):
        out.append(parse_recipient(line, f"{os.fspath(path)} line {number}"))
    if not out:
        raise LeafListError(f"{os.fspath(path)}: no age recipient (age1...) in the file")
    return out


@dataclass(frozen=True, slots=True)
class LeafListPolicy:
    """The operator's choice for the leaf list (see the module docstring)."""

    mode: str = "public"
    recipients: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise LeafListError(
                f"leaf list mode: expected one of {', '.join(MODES)}, got {self.mode!r}"
            )
        if self.mode == "auditors" and not self.recipients:
            raise LeafListError(
                "leaf list mode auditors: give at least one auditor's age recipient (age1...)"
            )
        if self.mode != "auditors" and self.recipients:
            raise LeafListError(
                f"auditor recipients are only used with leaf list mode auditors, not {self.mode}"
            )
        if len(self.recipients) > RECIPIENTS_MAX:
            raise LeafListError(
                f"leaf list: expected at most {RECIPIENTS_MAX} recipients,"
                f" got {len(self.recipients)}"
            )

    @classmethod
    def of(cls, mode: str, recipients: Sequence[str] = ()) -> LeafListPolicy:
        """Validated and canonical: every recipient parsed, sorted, duplicates dropped."""
        canonical = sorted({parse_recipient(r) for r in recipients})
        return cls(mode, tuple(canonical))

    @property
    def file(self) -> str | None:
        return {"public": CLEAR_NAME, "auditors": SEALED_NAME}.get(self.mode)

    @property
    def needs_leaves(self) -> bool:
        """Whether the snapshot must write its leaf list (public and auditors)."""
        return self.mode != "none"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.file is not None:
            out["file"] = self.file
        if self.recipients:
            out["recipients"] = list(self.recipients)
        return out

    def describe(self) -> str:
        """One line for people: how this hour's leaf list is published."""
        if self.mode == "public":
            return f"public: {CLEAR_NAME}"
        if self.mode == "auditors":
            n = len(self.recipients)
            return f"encrypted for {n} auditor{'s' if n != 1 else ''} ({SEALED_NAME})"
        return "withheld by the exchange"


def from_manifest(document: Mapping[str, Any]) -> LeafListPolicy:
    """The signed `leaf_list` field, strictly; `LeafListError` when it is malformed.

    Without the field (manifests from before it): public if `bundle.files` lists
    liabilities.jsonl, else none. The caller checks that the named file is listed.
    """
    field = document.get("leaf_list")
    if field is None:
        bundle = document.get("bundle")
        files = bundle.get("files") if isinstance(bundle, dict) else None
        listed = isinstance(files, dict) and CLEAR_NAME in files
        return LeafListPolicy("public" if listed else "none")
    if not isinstance(field, dict):
        raise LeafListError("leaf_list: expected an object {mode, file, recipients}")
    unknown = sorted(set(field) - {"mode", "file", "recipients"})
    if unknown:
        raise LeafListError(f"leaf_list: unknown fields {unknown}")
    mode = field.get("mode")
    if not isinstance(mode, str) or mode not in MODES:
        raise LeafListError(f"leaf_list.mode: expected one of {', '.join(MODES)}, got {mode!r}")
    raw = field.get("recipients", [])
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise LeafListError("leaf_list.recipients: expected a list of age1... strings")
    if len(raw) > RECIPIENTS_MAX:
        raise LeafListError(f"leaf_list.recipients: more than {RECIPIENTS_MAX}")
    recipients = [parse_recipient(r, "leaf_list.recipients") for r in raw]
    if recipients != raw or recipients != sorted(set(recipients)):
        raise LeafListError(
            "leaf_list.recipients: expected canonical age1... strings, sorted, each once"
        )
    policy = LeafListPolicy(mode, tuple(recipients))
    if field.get("file") != policy.file:
        raise LeafListError(f"leaf_list.file: expected {policy.file!r} for mode {mode}")
    return policy


# -- encryption (the publisher) --------------------------------------------------------------
def seal_file(src: Path, dst: Path, recipients: Sequence[str]) -> None:
    """Encrypt `src` to `dst` for `recipients` with age, streaming (constant memory).

    `dst` must not exist (the caller writes into a fresh temporary bundle and fsyncs).
    """
    import pyrage
    from pyrage import x25519

    keys = [x25519.Recipient.from_str(parse_recipient(r)) for r in recipients]
    if not keys:
        raise LeafListError("no recipient to encrypt the leaf list to")
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with open(src, "rb") as clear, os.fdopen(fd, "wb") as sealed:
            pyrage.encrypt_io(clear, sealed, keys)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise


def seal_snapshot_leaves(snapshot_dir: Path, recipients: Sequence[str]) -> Path:
    """In a snapshot directory not yet in its final place: replace public/leaves.jsonl by
    public/leaves.jsonl.age (encrypted for `recipients`) and say so in snapshot.json's
    `files.leaves`. Returns the sealed file. (`por snapshot --leaf-list auditors`; the
    publisher seals at bundle time instead, from the snapshot's clear list.)"""
    import json

    public = snapshot_dir / "public"
    clear, sealed = public / "leaves.jsonl", public / "leaves.jsonl.age"
    seal_file(clear, sealed, recipients)
    meta_path = public / "snapshot.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if isinstance(meta.get("files"), dict):
        meta["files"]["leaves"] = sealed.name
        meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", "utf-8")
    clear.unlink()
    for path in (sealed, meta_path, public):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return sealed


# -- identities (the auditor) ----------------------------------------------------------------
def _key_lines(path: str | os.PathLike[str], what: str) -> Iterator[tuple[int, str]]:
    name = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(_KEY_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise LeafListError(f"{name}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > _KEY_FILE_MAX_BYTES:
        raise LeafListError(f"{name}: too large for an age {what}")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise LeafListError(f"{name}: not an age {what} (not ASCII text)") from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, stripped


def read_identities(path: str | os.PathLike[str]) -> list[Identity]:
    """The X25519 identities of an age identity file (as `age-keygen` writes it).

    Errors never quote a line of the file: it holds secret keys.
    """
    from pyrage import IdentityError, x25519

    name = os.fspath(path)
    out = []
    for number, line in _key_lines(path, "identity file"):
        if not line.upper().startswith(_IDENTITY_PREFIX):
            raise LeafListError(
                f"{name} line {number}: expected an age X25519 identity AGE-SECRET-KEY-1..."
            )
        try:
            out.append(x25519.Identity.from_str(line))
        except (IdentityError, ValueError):
            raise LeafListError(
                f"{name} line {number}: not a valid age X25519 identity (AGE-SECRET-KEY-1...)"
            ) from None
    if not out:
        raise LeafListError(f"{name}: no age identity (AGE-SECRET-KEY-1...) in the file")
    return out


def identity_recipients(identities: Sequence[Identity]) -> list[str]:
    """The recipient (public key, age1...) of each identity."""
    return [str(i.to_public()) for i in identities]


def write_identity_file(path: Path) -> str:
    """Create a new age X25519 identity in `path` (mode 0600, never overwritten), in
    age-keygen's format; return its recipient (age1...) to hand to the exchange."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)  # fails if `path` exists: never replaces a key
    except FileExistsError:
        raise LeafListError(f"{path}: already exists; not overwriting a key") from None
    except OSError as exc:
        raise LeafListError(f"{path}: cannot write the identity: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return recipient


# -- decryption, streaming -------------------------------------------------------------------
class _Plaintext(io.RawIOBase):
    """The read end of the decryption pipe; at its end, the decryption's own error (if
    any) is raised instead of a silent EOF, so a truncated or forged ciphertext is never
    taken for a short list."""

    def __init__(self, pipe: IO[bytes], done: threading.Thread, errors: list[BaseException]):
        self._pipe = pipe
        self._done = done
        self._errors = errors

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._pipe.readinto(buffer)  # type: ignore[attr-defined]
        if not n:
            self._done.join()
            if self._errors:
                raise _decrypt_error(self._errors[0])
        return int(n or 0)

    def close(self) -> None:
        self._pipe.close()
        super().close()


def _decrypt_error(exc: BaseException) -> LeafListDecryptError:
    text = str(exc) or type(exc).__name__
    if "no matching keys" in text.lower():
        return LeafListDecryptError(
            "the encrypted list is not encrypted to the given identity's key"
        )
    return LeafListDecryptError(f"the encrypted list does not decrypt: {text}")


@contextmanager
def decrypted(path: Path, identities: Sequence[Identity]) -> Iterator[IO[bytes]]:
    """The clear text of an age-encrypted file as a stream; nothing is written to disk.

    A thread decrypts into a pipe (age authenticates every 64 KiB chunk before releasing
    it); reading past the end raises `LeafListDecryptError` if the decryption failed.
    Leaving early closes the pipe, which stops the thread.
    """
    import pyrage

    source = open(path, "rb")  # noqa: SIM115 -- the thread closes it
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            with source, open(write_fd, "wb") as sink:
                pyrage.decrypt_io(source, sink, list(identities))
        except BrokenPipeError:
            pass  # the reader stopped early: its own error stands
        except BaseException as exc:  # handed to the reader at the end of the stream
            errors.append(exc)

    thread = threading.Thread(target=pump, name="age-decrypt", daemon=True)
    raw = _Plaintext(open(read_fd, "rb", buffering=0), thread, errors)  # noqa: SIM115
    stream = io.BufferedReader(raw, buffer_size=_READ_BYTES)
    thread.start()
    try:
        yield stream
    finally:
        stream.close()
        thread.join()
