"""Fuzz targets on real demo output: bundles, reserves, the log monitor, ledger command logs.

Each target mutates a real file of a small `por demo` run (or the sample command log) and
runs the library's verifier in process. Its oracle says when an acceptance is wrong, by
construction of the mutant, never by asking the verifier:

- a byte changed in a signed file without re-signing must be refused, unless the file still
  means the same (same parsed JSON, same signed manifest bytes);
- a file left out of a bundle, or dropped from its signed list and re-signed, must be refused
  (manifest, reconciliation, reserves, and the public leaf list are required; index.html
  is not);
- a re-signed bundle whose leaf list no longer holds the same leaves, or whose
  reconciliation figures (integers and decimal strings) changed, must be refused (the
  figures are recomputed from the files, never trusted);
- a log head re-signed with a timestamp before the monitor's last head, or long before its
  clock (stale), must be refused;
- a ledger line holding a lone surrogate or a control character (NUL, newline, ESC, DEL...)
  in any string must be refused as an invalid line, not recorded.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._fuzz_json import dump, mutant, mutate_bytes, mutate_text, mutate_value

__all__ = ["Demo", "make_demo", "Outcome"]

REPO = Path(__file__).resolve().parents[1]
BUNDLE_REQUIRED = ("manifest.json", "reconciliation.json", "reserves.json", "liabilities.jsonl")


@dataclass
class Outcome:
    """One case: `accepted` by the verifier, `invalid` by the oracle (None: no claim)."""

    accepted: bool
    invalid: bool | None


@dataclass
class Demo:
    root: Path
    key: Any  # por.operator.signing.SigningKey
    bundle: Path  # the last hour's bundle
    site: Path

    @property
    def public_hex(self) -> str:
        return str(self.key.public_key_hex)


def make_demo(work: Path) -> Demo:
    """A two-hour demo of 20 accounts (about 4 s), copied so no file shares an inode."""
    from por.operator.signing import load_signing_key

    out = work / "demo"
    subprocess.run(
        [str(Path(sys.executable).with_name("por")), "demo", "--out", str(out), "--accounts", "20",
         "--hours", "2", "--pieces", "none", "--quiet"],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    site = work / "site"
    shutil.copytree(out / "site", site, copy_function=shutil.copy)
    bundles = sorted(p for p in (site / "snapshots").iterdir() if p.is_dir())
    return Demo(out, load_signing_key(out / "keys/manifest-signing.key"), bundles[-1], site)


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _figures(value: Any, path: str = "$") -> list[tuple[str, Any]]:
    """Every integer and decimal-digit string of a JSON value, with its path."""
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k in sorted(value):
            out += _figures(value[k], f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _figures(v, f"{path}[{i}]")
    elif (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit()
    ):
        out.append((path, str(value)))
    return out


# reconciliation.json's stated inputs: figures no public file can confirm (the ledger's
# custody and system balances, index prices and their decimals, the borrowers' collateral and
# its valuation, counts). The exchange may state any value of the right form, so a re-signed
# change of one of them alone is not invalid; the figures derived from them are. Text fields
# (rounding, notes) are not figures at all: a note may read "000". (Oracle was too strict:
# bundles seed 7 case 391 changed usd.rounding to a digit string.)
_STATED = re.compile(
    r"\$\.(assets\[\d+\]\.(ledger_custody|in_flight_withdrawals|system_accounts)"
    r"|usd\.assets\[\d+\]\.price|usd\.price_decimals"
    r"|collateral\.(price_decimals|borrowing_accounts|under_collateralised_accounts|shortfall_usd"
    r"|assets\[\d+\]\.(collateral|debt_usd|collateral_after_haircut_usd)))"
)
_TEXT = re.compile(r"\$\.(usd\.rounding|notes\[\d+\]|collateral\.notes\[\d+\])")
_PRICE_DECIMALS_MAX = 36  # USD x 10^price_decimals; both views share the one scale


def _scalars(value: Any, path: str = "$") -> list[tuple[str, Any]]:
    """Every non-container value of a JSON value, with its path."""
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _scalars(value[k], f"{path}.{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _scalars(v, f"{path}[{i}]")]
    return [(path, value)]


def _stated_form(path: str, value: Any, original: Any) -> bool:
    """A stated input of the right form (the form por-reconciliation/1 gives it)."""
    if original is None:
        return value is None
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ("price_decimals", "borrowing_accounts", "under_collateralised_accounts"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return False
        return leaf != "price_decimals" or value <= _PRICE_DECIMALS_MAX
    text = value
    if leaf == "system_accounts" and isinstance(value, str) and value.startswith("-"):
        text = value[1:]  # the only signed stated input; "-0" is not canonical
        if text == "0":
            return False
    return (
        isinstance(text, str)
        and text.isascii()
        and text.isdigit()
        and len(text) <= 78  # an amount below 10^78 (2^256 has 78 digits)
        and (text == "0" or text[0] != "0")
    )


def _reconciliation_invalid(new: Any, old: Any) -> bool:
    """A re-signed reconciliation.json the verifier must refuse: not JSON, a derived figure
    changed, added or removed, or a stated input missing or of the wrong form."""
    if new is None:
        return True

    def split(doc: Any) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        derived, stated = [], {}
        for path, value in _scalars(doc):
            if _STATED.fullmatch(path):
                stated[path] = value
            elif not _TEXT.fullmatch(path) and _figures(value):
                derived.append((path, str(value)))
        return derived, stated

    derived_new, stated_new = split(new)
    derived_old, stated_old = split(old)
    if derived_new != derived_old or set(stated_new) != set(stated_old):
        return True
    if not all(_stated_form(p, v, stated_old[p]) for p, v in stated_new.items()):
        return True
    usd, collateral = new.get("usd"), new.get("collateral")
    return (
        isinstance(usd, dict)
        and isinstance(collateral, dict)
        and usd.get("price_decimals") != collateral.get("price_decimals")
    )


def _leaves(data: bytes) -> list[Any] | None:
    try:
        return [json.loads(x) for x in data.split(b"\n") if x.strip()]
    except ValueError:
        return None


# ---- bundles ---------------------------------------------------------------------------------


class BundleTarget:
    """`verify_bundle_dir` on a copy of the demo's last bundle, one mutation per case."""

    def __init__(self, demo: Demo, work: Path) -> None:
        from por.manifest import parse_manifest_bytes

        self.demo = demo
        self.dir = work / "bundle"
        shutil.copytree(demo.bundle, self.dir, copy_function=shutil.copy)
        self.files = {p.name: p.read_bytes() for p in self.dir.iterdir()}
        self.manifest = json.loads(self.files["manifest.json"])
        self.signed = parse_manifest_bytes(self.files["manifest.json"]).signed_bytes
        self.public = bytes.fromhex(demo.public_hex)
        self.present = set(self.files)

    def _restore(self) -> None:
        for name in self.present - set(self.files):
            (self.dir / name).unlink(missing_ok=True)
        for name, data in self.files.items():
            path = self.dir / name
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        self.present = set(self.files)

    def _resign(self, manifest: dict[str, Any]) -> bytes:
        from bench._proof_corpus import resign

        return json.dumps(resign(manifest, self.demo.key.private), indent=1).encode()

    def _write(self, name: str, data: bytes | None) -> None:
        if data is None:
            (self.dir / name).unlink()
            self.present.discard(name)
        else:
            (self.dir / name).write_bytes(data)
            self.present.add(name)

    def case(self, rng: random.Random) -> tuple[Callable[[], bool], Callable[[], bool | None]]:
        self._restore()
        roll = rng.random()
        names = sorted(self.files)
        if roll < 0.3:  # any file changed, not re-signed
            name = rng.choice(names)
            original = self.files[name]
            value = _json_or_none(original) if name.endswith(".json") else None
            bad = mutant(rng, value, original) if value is not None else mutate_bytes(rng, original)
            self._write(name, bad)
            invalid = lambda: not self._same()  # noqa: E731
        elif roll < 0.4:  # a file missing
            name = rng.choice(names)
            self._write(name, None)
            invalid = lambda: True  # noqa: E731
        elif roll < 0.55:  # dropped from the signed list and from the bundle, re-signed
            name = rng.choice([n for n in names if n != "manifest.json"])
            manifest = copy.deepcopy(self.manifest)
            manifest["bundle"]["files"].pop(name, None)
            self._write(name, None)
            self._write("manifest.json", self._resign(manifest))
            invalid = lambda name=name: name in BUNDLE_REQUIRED  # noqa: E731
        else:  # a file changed and re-signed with the exchange's key
            name = rng.choice(["liabilities.jsonl", "reconciliation.json", "reserves.json"])
            original = self.files[name]
            if name == "liabilities.jsonl":
                lines = original.splitlines(keepends=True)
                i = rng.randrange(len(lines))
                if rng.random() < 0.6:
                    leaf = json.loads(lines[i])
                    lines[i] = dump(mutate_value(rng, leaf), rng).replace(b"\n", b"") + b"\n"
                    bad = b"".join(lines)
                else:
                    bad = (
                        mutate_bytes(rng, original)
                        if rng.random() < 0.5
                        else mutate_text(rng, original)
                    )
                invalid = lambda bad=bad: _leaves(bad) != _leaves(original)  # noqa: E731
            else:
                value = json.loads(original)
                bad = mutant(rng, value, original)
                if name == "reconciliation.json":
                    new = _json_or_none(bad)
                    invalid = lambda new=new, value=value: (  # noqa: E731
                        _reconciliation_invalid(new, value)
                    )
                else:
                    invalid = lambda bad=bad: _json_or_none(bad) is None  # noqa: E731
            manifest = copy.deepcopy(self.manifest)
            manifest["bundle"]["files"][name] = {
                "bytes": len(bad), "sha256": hashlib.sha256(bad).hexdigest()
            }  # fmt: skip
            self._write(name, bad)
            self._write("manifest.json", self._resign(manifest))

        self.last = "bundle " + ", ".join(
            f"{n}={self._shown(n)}"
            for n in sorted(self.files)
            if not (self.dir / n).exists() or (self.dir / n).read_bytes() != self.files[n]
        )

        def check() -> bool:
            from por.audit.bundle import verify_bundle_dir

            return verify_bundle_dir(self.dir, self.public).passed

        return check, invalid

    def inputs(self) -> dict[str, bytes]:
        """The case's bundle as the verifier read it (`bundle/`), the original (`original/`)
        and the pinned key, for `--keep`."""
        out = {f"bundle/{p.name}": p.read_bytes() for p in sorted(self.dir.iterdir())}
        out.update({f"original/{n}": data for n, data in self.files.items()})
        out["public_key.hex"] = self.public.hex().encode()
        return out

    def _shown(self, name: str) -> str:
        path = self.dir / name
        return repr(path.read_bytes()[:3000]) if path.exists() else "(missing)"

    def _same(self) -> bool:
        from por.manifest import parse_manifest_bytes

        for name, content in self.files.items():
            path = self.dir / name
            if not path.exists():
                return False
            now = path.read_bytes()
            if name == "manifest.json":
                try:
                    if parse_manifest_bytes(now).signed_bytes != self.signed:
                        return False
                except Exception:
                    return False
            elif now != content:
                return False
        return True


# ---- reserves --------------------------------------------------------------------------------


class ReservesTarget:
    """The offline part of `verify reserves` (what `verify bundle` checks of reserves.json,
    no node asked) on structure-aware mutants of the demo's reserves.json."""

    def __init__(self, demo: Demo) -> None:
        from por.manifest import parse_manifest_bytes

        self.raw = (demo.bundle / "reserves.json").read_bytes()
        self.value = json.loads(self.raw)
        manifest_raw = (demo.bundle / "manifest.json").read_bytes()
        self.manifest = parse_manifest_bytes(manifest_raw)
        self.document = json.loads(manifest_raw)
        self.key = bytes.fromhex(demo.public_hex)
        self.signer = demo.key.private
        self.wallets = {
            (r["chain"], b["address"]) for r in self.value["readings"] for b in r["balances"]
        }
        self.classes = [
            lambda v: {**v, "readings": ["x"]},
            lambda v: self._at_amount(v, "9" * 5000),
            lambda v: self._at_address(v, "xyz"),
            lambda v: self._at_address(v, ["0x00"]),
        ]

    @staticmethod
    def _balances(v: Any) -> list[Any]:
        return [
            b
            for r in v.get("readings", [])
            if isinstance(r, dict)
            for b in r.get("balances", [])
            if isinstance(b, dict)
        ]

    def _at_amount(self, v: Any, amount: Any) -> Any:
        v = copy.deepcopy(v)
        self._balances(v)[0]["amount"] = amount
        return v

    def _at_address(self, v: Any, address: Any) -> Any:
        v = copy.deepcopy(v)
        self._balances(v)[0]["address"] = address
        return v

    def case(self, rng: random.Random) -> tuple[Callable[[], bool], Callable[[], bool | None]]:
        from bench._proof_corpus import resign
        from por._input import load_json
        from por.manifest import parse_manifest_bytes

        roll = rng.random()
        if roll < 0.05:
            bad = json.dumps(rng.choice(self.classes)(self.value)).encode()
        else:
            bad = mutant(rng, self.value, self.raw)
        document, manifest = self.document, self.manifest
        resigned = rng.random() < 0.4
        if resigned:  # the exchange lists the new file's digest and signs again
            document = copy.deepcopy(self.document)
            document["bundle"]["files"]["reserves.json"] = {
                "bytes": len(bad), "sha256": hashlib.sha256(bad).hexdigest()
            }  # fmt: skip
            document = resign(document, self.signer)
            manifest = parse_manifest_bytes(json.dumps(document).encode())

        self.last = f"resigned={resigned} reserves.json={bad!r}"
        self.kept = {
            "reserves.json": bad, "manifest.json": json.dumps(document).encode(),
            "original-reserves.json": self.raw, "public_key.hex": self.key.hex().encode(),
        }  # fmt: skip

        def check() -> bool:
            from por.audit.reserves import verify_reserves
            from por.errors import InputError

            reserves = load_json(bad, "reserves.json")
            if not isinstance(reserves, dict):
                raise InputError("not a por-reserves/1 file")
            listed = document["bundle"]["files"]["reserves.json"]["sha256"]
            digest_ok = listed == hashlib.sha256(bad).hexdigest()
            checks = verify_reserves(
                reserves, None, None, manifest=manifest, document=document,
                exchange_key=self.key,
            )  # fmt: skip
            return digest_ok and all(c.status != "fail" for c in checks)

        if resigned:
            return check, lambda: self._breaks_rules(_json_or_none(bad))
        # not re-signed: the manifest's digest binds the bytes
        return check, lambda: _json_or_none(bad) != self.value

    def inputs(self) -> dict[str, bytes]:
        """reserves.json and the manifest (re-signed or not) of the last case, for `--keep`."""
        return self.kept

    def _breaks_rules(self, doc: Any) -> bool:
        """What no re-signing makes right: totals (the file's, or a reading's) that are not
        the sums of the balances, a non-canonical amount, a string with no UTF-8 form, or a
        wallet address whose ownership nobody proved."""
        if not isinstance(doc, dict) or _bad_text(doc, controls=False):
            return True
        try:
            sums: dict[str, int] = {}
            wallets = set()
            for reading in doc["readings"]:
                own: dict[str, int] = {}  # each reading states its own totals (per chain)
                for b in reading["balances"]:
                    own[b["asset"]] = own.get(b["asset"], 0) + int(b["amount"])
                if {k: int(v) for k, v in reading["totals"].items()} != own:
                    return True
                for b in reading["balances"]:
                    amount = b["amount"]
                    if not (isinstance(amount, str) and amount.isascii() and amount.isdigit()
                            and (amount == "0" or amount[0] != "0")):  # fmt: skip
                        return True
                    sums[b["asset"]] = sums.get(b["asset"], 0) + int(amount)
                    wallets.add((reading["chain"], b["address"]))
            totals = {k: int(v) for k, v in doc["totals"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            return True
        differs = any(totals.get(k, 0) != sums.get(k, 0) for k in set(totals) | set(sums))
        return differs or not wallets <= self.wallets


# ---- log monitor -----------------------------------------------------------------------------


class LogTarget:
    """`monitor_log` (the `verify log` run) of the demo's site after a state that holds its
    first hour's head; mutants of entries.jsonl and head.json, and re-signed stale heads."""

    NOW = "2026-11-24T02:30:00Z"

    @classmethod
    def clock(cls) -> Any:
        """The monitor's clock: a datetime (an ISO string for a monitor that takes one)."""
        import inspect
        from datetime import UTC, datetime

        from por.audit.monitor import monitor_log

        hint = str(inspect.signature(monitor_log).parameters["clock"].annotation)
        if "datetime" in hint:
            return datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
        return cls.NOW

    def __init__(self, demo: Demo, work: Path) -> None:
        from por.audit.monitor import monitor_log
        from por.audit.source import Site
        from por.log._rfc9162 import leaf_hash
        from por.log.head import LogHead, sign_head

        self.demo = demo
        self.site_dir = work / "logsite"
        (self.site_dir / "log").mkdir(parents=True)
        self.entries = (demo.site / "log/entries.jsonl").read_bytes()
        self.head = (demo.site / "log/head.json").read_bytes()
        self.head_doc = json.loads(self.head)
        first = self.entries.split(b"\n")[0]
        old = sign_head(LogHead(1, leaf_hash(first), "2026-11-24T01:05:00Z"), demo.key)
        (self.site_dir / "log/entries.jsonl").write_bytes(first + b"\n")
        (self.site_dir / "log/head.json").write_text(json.dumps(old))
        self.state = work / "monitor-state.json"
        self.site = Site(str(self.site_dir))
        monitor_log(self.site, [demo.public_hex], self.state, clock=self.clock)
        self.state_bytes = self.state.read_bytes()
        self.max_age = self._max_age_supported()

    def inputs(self) -> dict[str, bytes]:
        """The site's log files, the monitor's state before the case and the key."""
        return self.kept

    @staticmethod
    def _max_age_supported() -> bool:
        import inspect

        from por.audit.monitor import monitor_log

        return "max_age" in inspect.signature(monitor_log).parameters

    def case(self, rng: random.Random) -> tuple[Callable[[], bool], Callable[[], bool | None]]:
        from por.log.head import LogHead, sign_head

        self.state.write_bytes(self.state_bytes)
        entries, head = self.entries, self.head
        roll = rng.random()
        if roll < 0.45:
            lines = entries.split(b"\n")
            i = rng.randrange(2)
            if rng.random() < 0.5:
                lines[i] = dump(mutate_value(rng, json.loads(lines[i])), rng).replace(b"\n", b"")
                entries = b"\n".join(lines)
            else:
                entries = (
                    mutate_bytes(rng, entries) if rng.random() < 0.6 else mutate_text(rng, entries)
                )
            invalid = lambda e=entries: _leaves(e) != _leaves(self.entries)  # noqa: E731
        elif roll < 0.8:
            head = mutant(rng, self.head_doc, self.head)
            invalid = lambda h=head: _json_or_none(h) != self.head_doc  # noqa: E731
        else:  # re-signed with another timestamp: backdated, stale, or fine
            stamp = rng.choice(["2001-01-01T00:00:00Z", "2020-06-01T12:00:00Z",
                                "2026-11-24T01:00:00Z", "2026-11-24T02:05:00Z",
                                "2026-11-24T02:20:00Z", "9999-12-31T23:59:59Z"])  # fmt: skip
            size, root = self.head_doc["size"], bytes.fromhex(self.head_doc["root"])
            head = json.dumps(sign_head(LogHead(size, root, stamp), self.demo.key)).encode()
            # before the last head (01:05) or more than a day before the clock: refused;
            # after the clock: a head from the future
            invalid = lambda s=stamp: not ("2026-11-24T01:05:00Z" <= s <= self.NOW)  # noqa: E731
        self.last = f"entries.jsonl={entries!r} head.json={head!r}"
        self.kept = {
            "site/log/entries.jsonl": entries, "site/log/head.json": head,
            "monitor-state.json": self.state_bytes, "original/entries.jsonl": self.entries,
            "original/head.json": self.head, "public_key.hex": self.demo.public_hex.encode(),
            "clock.txt": self.NOW.encode(),
        }  # fmt: skip
        (self.site_dir / "log/entries.jsonl").write_bytes(entries)
        (self.site_dir / "log/head.json").write_bytes(head)

        def check() -> bool:
            from por.audit.monitor import monitor_log

            monitor_log(self.site, [self.demo.public_hex], self.state, clock=self.clock)
            return True

        return check, invalid


# ---- ledger command logs ---------------------------------------------------------------------

_BAD_CHARS = frozenset(chr(c) for c in (*range(0x20), 0x7F))


def _bad_text(value: Any, controls: bool = True) -> bool:
    """A lone surrogate, or (with `controls`) a control character, in any string."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() or not item.isprintable():
                if controls and any(c in _BAD_CHARS for c in item):
                    return True
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class LedgerTarget:
    """`run_lines` of the sample command log's first lines, then one mutated line and the
    line after it, on an in-memory ledger (a fresh copy of the prefix's state per case)."""

    PREFIX = 60

    def __init__(self) -> None:
        from exchange.commandlog import run_lines
        from exchange.engine import Exchange

        lines = (REPO / "sample_data/commands.jsonl").read_bytes().splitlines()
        self.prefix, self.rest = lines[: self.PREFIX], lines[self.PREFIX : self.PREFIX + 400]
        self.base = Exchange()
        run_lines(self.base, self.prefix, "prefix")
        self.jumps = ["2026-11-24T01:00:00Z", "2026-12-01T00:00:00Z", "2027-11-24T00:00:00Z",
                      "9999-12-31T23:59:59Z", "2001-01-01T00:00:00Z"]  # fmt: skip

    def inputs(self) -> dict[str, bytes]:
        """The prefix run first and the mutated line, for `--keep`."""
        return self.kept

    def case(self, rng: random.Random) -> tuple[Callable[[], bool], Callable[[], bool | None]]:
        i = rng.randrange(len(self.rest) - 1)
        original = self.rest[i]
        value = json.loads(original)
        roll = rng.random()
        if roll < 0.02:  # a clock jump, by a clock command or a ts field
            stamp = rng.choice(self.jumps)
            doc = {"cmd": "clock", "time": stamp} if rng.random() < 0.5 else {**value, "ts": stamp}
            bad = json.dumps(doc).encode()
        elif roll < 0.1:  # a control character or a lone surrogate in an id
            field = rng.choice([k for k in value if k != "cmd"] or ["cmd"])
            char = rng.choice(["\x00", "\n", "\x1b[31m", "\x7f", "\ud800", "\r", "\t"])
            doc = {**value, field: str(value[field]) + char}
            bad = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        elif roll < 0.13:  # deep nesting in an extra field
            depth = rng.choice((100, 1000, 100_000))
            bad = original[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"
        else:
            bad = mutant(rng, value, original)
        lines = [bad, self.rest[i + 1]]
        self.kept = {
            "prefix.jsonl": b"\n".join(self.prefix) + b"\n", "line.jsonl": bad + b"\n",
            "original-line.jsonl": original + b"\n",
        }  # fmt: skip
        self.last = f"after sample_data/commands.jsonl[:{self.PREFIX}]: line {bad[:3000]!r}"

        def check() -> bool:
            from exchange.commandlog import run_lines
            from exchange.errors import CommandLineError

            exchange = copy.deepcopy(self.base)
            try:
                run_lines(exchange, lines[:1], "fuzz", batch=1)
            except CommandLineError:
                return False
            return True

        def invalid() -> bool | None:
            try:
                doc = json.loads(bad.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                return None
            return _bad_text(doc)

        return check, invalid
