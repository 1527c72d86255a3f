"""Per-period ownership attestations: cold wallets sign once a period, offline.

Hot wallets sign every snapshot (kind `snapshot`). Cold storage sits behind a ceremony,
so it signs once per period (kind `period`): `make_challenge` writes the exact text each
cold address signs -- the exchange and its pinned key, the chain id, the address, the
period and its window, and a recent finalized block of that chain, so the signature
cannot have been made before the period began; the custodian signs it offline (EIP-191
`personal_sign` on Ethereum, Ed25519 over the UTF-8 bytes on Solana: any hardware wallet
or HSM can); `import_signatures` checks every signature, that the block is a real block
of that chain at or after the period's start and that the key in the text is the pinned
one, and `AttestationStore` keeps the proofs where the publisher finds them.

A verifier applies `AttestationPolicy` per wallet role: an hour fails when a per-period
proof's window does not cover it, when its block is older than its period, or when it is
older (hour minus block time) than the role's maximum age. Defaults: hot 0 (per-snapshot
proofs only), cold 7 days (a weekly attestation never exceeds it inside its week).

Periods: `2026-W49` (ISO week, Monday 00:00 UTC to the next Monday), `2026-12` (a
calendar month), `2026-12-07` (a day); the window's end is excluded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from por.reserves.blocks import BlockSource
from por.reserves.errors import AttestationRuleError, OwnershipError, ReservesError
from por.reserves.keystore import KeyStore
from por.reserves.ownership import (
    Binding,
    OwnershipProof,
    ownership_message,
    verify_ownership,
)
from por.reserves.values import ROLES, Chain, Role, Wallet, iso_utc
from por.reserves.wallets import WalletRegistry

__all__ = [
    "CHALLENGE_FORMAT",
    "DEFAULT_POLICY",
    "AttestationPolicy",
    "expires_at",
    "AttestationStore",
    "Period",
    "check_attestation",
    "expiry_warnings",
    "import_signatures",
    "make_challenge",
    "parse_duration",
    "parse_iso_utc",
    "parse_period",
    "sign_challenge",
]

CHALLENGE_FORMAT = "por-attestation-challenge/1"
DAY = 86_400
_WEEK = re.compile(r"(\d{4})-W(\d{2})\Z")
_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
_DURATION = re.compile(r"(\d{1,7})([smhd]?)\Z")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": DAY}


@dataclass(frozen=True, slots=True)
class Period:
    """A period id and its window [start, end) in Unix seconds."""

    id: str
    start: int
    end: int

    @property
    def window(self) -> tuple[str, str]:
        return iso_utc(self.start), iso_utc(self.end)


def _unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def parse_period(text: str) -> Period:
    """`2026-W49`, `2026-12` or `2026-12-07`; OwnershipError naming the forms otherwise."""
    try:
        if m := _WEEK.match(text):
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period(text, _unix(start), _unix(start + timedelta(days=7)))
        if m := _DAY.match(text):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return Period(text, _unix(day), _unix(day + timedelta(days=1)))
        if m := _MONTH.match(text):
            first = date(int(m[1]), int(m[2]), 1)
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return Period(text, _unix(first), _unix(following))
    except ValueError:
        pass
    raise OwnershipError(
        f"period {text[:40]!r}: expected an ISO week (2026-W49), a month (2026-12) or a day"
        " (2026-12-07)"
    )


def parse_iso_utc(text: str, what: str = "time") -> int:
    """`2026-11-30T00:00:00Z` -> Unix seconds; OwnershipError if it is not that form."""
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise OwnershipError(f"{what} {str(text)[:40]!r}: expected 2026-11-30T00:00:00Z") from None
    return int(moment.timestamp())


def parse_duration(text: str) -> int:
    """`0`, `3600`, `90m`, `36h`, `7d` -> seconds; OwnershipError otherwise."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise OwnershipError(f"duration {text[:40]!r}: expected e.g. 0, 36h, 7d")
    return int(m[1]) * _UNITS[m[2]]


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, 3600)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    return text or f"{rest}s"


@dataclass(frozen=True, slots=True)
class AttestationPolicy:
    """How old (hour minus the attestation's block time) a wallet's per-period proof may
    be, per role; 0 allows per-snapshot proofs only."""

    max_age: Mapping[str, int] = field(default_factory=lambda: {"hot": 0, "cold": 7 * DAY})

    @staticmethod
    def parse(values: Sequence[str]) -> AttestationPolicy:
        """`--max-attestation-age` values: `ROLE=DURATION` or `DURATION` (the cold role)."""
        ages = dict(DEFAULT_POLICY.max_age)
        for value in values:
            role, _, duration = value.rpartition("=")
            role = role or "cold"
            if role not in ROLES:
                raise OwnershipError(
                    f"--max-attestation-age {value!r}: role must be one of {', '.join(ROLES)}"
                )
            ages[role] = parse_duration(duration)
        return AttestationPolicy(ages)

    def describe(self) -> str:
        return ", ".join(f"{role} {_span(age)}" for role, age in sorted(self.max_age.items()))


DEFAULT_POLICY = AttestationPolicy()


def _rule(rule: str, wallet: Wallet, detail: str) -> AttestationRuleError:
    return AttestationRuleError(
        rule, role=wallet.role, chain=wallet.chain, address=wallet.address, detail=detail
    )


def check_attestation(
    proof: OwnershipProof, wallet: Wallet, hour: int, policy: AttestationPolicy = DEFAULT_POLICY
) -> None:
    """The policy's rules for one wallet's proof at `hour` (Unix s); per-snapshot proofs
    pass (their binding to the snapshot is checked by `verify_ownership`)."""
    if proof.kind != "period":
        return
    period = parse_period(proof.period)
    if proof.window != period.window:
        raise _rule(
            "attestation_window_not_its_period",
            wallet,
            f"window {proof.window[0]}..{proof.window[1]} is not period {period.id}'s"
            f" {period.window[0]}..{period.window[1]}",
        )
    made = parse_iso_utc(proof.block[2], "attestation block time")
    at = iso_utc(hour)
    if not period.start <= hour < period.end:
        raise _rule(
            "attestation_window_does_not_cover_hour",
            wallet,
            f"attestation of period {period.id} ({period.window[0]} to {period.window[1]})"
            f" does not cover hour {at}",
        )
    if made < period.start:
        raise _rule(
            "attestation_made_before_period",
            wallet,
            f"its recent block {proof.block[0]} ({proof.block[2]}) is older than period"
            f" {period.id}",
        )
    limit = policy.max_age.get(wallet.role, 0)
    age = max(0, hour - made)
    if age > limit:
        allowed = "per-snapshot proofs only" if limit == 0 else f"at most {_span(limit)}"
        raise _rule(
            "attestation_expired",
            wallet,
            f"attestation of period {period.id} made at block {proof.block[0]}"
            f" ({proof.block[2]}) is {_span(age)} old at hour {at}; {wallet.role} wallets:"
            f" {allowed} (--max-attestation-age)",
        )


def expires_at(proof: OwnershipProof, role: str, policy: AttestationPolicy) -> int:
    """When a per-period proof stops passing: its window's end (excluded) or its block time
    plus the role's maximum age, whichever comes first."""
    made = parse_iso_utc(proof.block[2], "attestation block time")
    end = parse_iso_utc(proof.window[1], "window end")
    return min(end, made + policy.max_age.get(role, 0))


# -- challenge, offline signature, import ---------------------------------------------------


def _binding(exchange: str, key: str, chain: Chain, chain_id: str, period: Period,
             number: int, block_hash: str) -> Binding:  # fmt: skip
    return Binding(exchange, key, chain, chain_id, period.id, "period", period.window,
                   (number, block_hash))  # fmt: skip


def make_challenge(
    registry: WalletRegistry,
    period: Period,
    exchange_key: str,
    sources: Mapping[str, BlockSource],
    *,
    roles: Iterable[Role] = ("cold",),
    now: int | None = None,
) -> dict[str, Any]:
    """The challenge document: for each wallet of `roles`, the exact text to sign naming a
    recent finalized block of its chain (asked of `sources`, one per chain)."""
    wanted = set(roles)
    wallets = [w for w in registry.wallets if w.role in wanted]
    if not wallets:
        raise OwnershipError(f"no {'/'.join(sorted(wanted))} wallets in the wallet file")
    blocks: dict[str, tuple[str, Any]] = {}
    for chain in sorted({w.chain for w in wallets}):
        source = sources.get(chain)
        if source is None:
            raise OwnershipError(f"the wallet file has {chain} wallets: give a {chain} RPC")
        recent = source.recent()
        if recent.time < period.start:
            raise OwnershipError(
                f"{chain}: the latest finalized block ({recent.number}, {iso_utc(recent.time)})"
                f" is before period {period.id} starts ({period.window[0]}): a challenge names"
                " a block of its period; issue it once the period has begun"
            )
        if recent.time >= period.end:
            raise OwnershipError(f"{chain}: period {period.id} is over ({period.window[1]})")
        blocks[chain] = (source.chain_id(), recent)
    entries = []
    for wallet in wallets:
        chain_id, recent = blocks[wallet.chain]
        binding = _binding(registry.exchange, exchange_key, wallet.chain, chain_id, period,
                           recent.number, recent.hash)  # fmt: skip
        entries.append(
            {
                "chain": wallet.chain,
                "chain_id": chain_id,
                "address": wallet.address,
                "role": wallet.role,
                "scheme": "eip191-personal-sign" if wallet.chain == "ethereum" else "ed25519",
                "block": {
                    "number": recent.number,
                    "hash": recent.hash,
                    "time": iso_utc(recent.time),
                },  # fmt: skip
                "message": ownership_message(binding, wallet.address),
            }
        )
    return {
        "format": CHALLENGE_FORMAT,
        "exchange": registry.exchange,
        "exchange_key": exchange_key,
        "period": period.id,
        "window": {"from": period.window[0], "until": period.window[1]},
        "issued_at": iso_utc(now if now is not None else max(b[1].time for b in blocks.values())),
        "challenges": entries,
    }


def read_document(path: str | Path) -> Any:
    """A challenge or signatures file, read bounded and parsed as the verifiers parse JSON
    (the CLI's one way in: it does not reach into the private input module)."""
    from por._input import load_json, read_bounded

    return load_json(read_bounded(Path(path)), str(path))


def _entries(doc: object) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or doc.get("format") != CHALLENGE_FORMAT:
        raise OwnershipError(f"expected a {CHALLENGE_FORMAT} document")
    entries = doc.get("challenges")
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise OwnershipError("challenges: expected a non-empty list of objects")
    return entries


def sign_challenge(doc: Mapping[str, Any], keystore: KeyStore) -> dict[str, Any]:
    """What the custodian's offline signer does (file key store: demo and tests): each
    entry's exact `message` signed, the signature added beside it."""
    from solders.signature import Signature

    signed: dict[str, Any] = json.loads(json.dumps(doc))
    for entry in _entries(signed):
        raw = keystore.sign(entry["chain"], entry["address"], str(entry["message"]).encode())
        entry["signature"] = (
            "0x" + raw.hex() if entry["chain"] == "ethereum" else str(Signature.from_bytes(raw))
        )
    return signed


def import_signatures(
    doc: object,
    *,
    registry: WalletRegistry,
    exchange_key: str,
    sources: Mapping[str, BlockSource],
) -> list[OwnershipProof]:
    """Check a signed challenge; the per-period proofs, or OwnershipError naming the entry.

    Every text is rebuilt from its fields (never taken as given); the key it names must be
    `exchange_key`; the chain id the node's; the block a block of that node's chain, made
    at or after the period's start; the signature the address's.
    """
    entries = _entries(doc)
    assert isinstance(doc, dict)
    period = parse_period(str(doc.get("period")))
    wallets = {(w.chain, w.address): w for w in registry.wallets}
    chain_ids: dict[str, str] = {}
    proofs: list[OwnershipProof] = []
    for i, entry in enumerate(entries):
        where = f"challenge {i}"
        try:
            wallet = wallets.get((entry.get("chain"), entry.get("address")))  # type: ignore[arg-type]
            if wallet is None:
                raise OwnershipError(
                    f"{entry.get('chain')} {entry.get('address')} is not in the wallet file"
                )
            where = f"{wallet.role} wallet {wallet.address} on {wallet.chain}"
            source = sources.get(wallet.chain)
            if source is None:
                raise OwnershipError(f"give a {wallet.chain} RPC to check its block")
            if wallet.chain not in chain_ids:
                chain_ids[wallet.chain] = source.chain_id()
            block = entry.get("block")
            if not isinstance(block, dict):
                raise OwnershipError("no block")
            number, block_hash = block.get("number"), block.get("hash")
            if not isinstance(number, int) or not isinstance(block_hash, str):
                raise OwnershipError("block: expected a number and a hash")
            proof = OwnershipProof(
                wallet.chain,
                str(entry.get("chain_id")),
                wallet.address,
                str(doc.get("exchange_key")),
                "period",
                period.id,
                "eip191-personal-sign" if wallet.chain == "ethereum" else "ed25519",
                str(entry.get("message")),
                str(entry.get("signature", "")),
                period.window,
                (number, block_hash, ""),
            )
            binding = _binding(registry.exchange, exchange_key, wallet.chain,
                               chain_ids[wallet.chain], period, number, block_hash)  # fmt: skip
            if not proof.signature:
                raise OwnershipError("not signed (no signature)")
            found = source.find(number, block_hash)
            if found is None:
                raise _rule(
                    "attestation_block_not_on_chain",
                    wallet,
                    f"block {number} {block_hash} is not a block of {chain_ids[wallet.chain]}"
                    f" ({wallet.chain} RPC)",
                )
            if found.time < period.start:
                raise _rule(
                    "attestation_made_before_period",
                    wallet,
                    f"block {number} ({iso_utc(found.time)}) is older than period {period.id}",
                )
            verify_ownership(proof, binding)
        except ReservesError as exc:
            raise OwnershipError(f"{where}: {exc}") from None
        proofs.append(
            OwnershipProof(**{**_fields(proof), "block": (number, block_hash, iso_utc(found.time))})
        )
    return proofs


def _fields(proof: OwnershipProof) -> dict[str, Any]:
    return {name: getattr(proof, name) for name in OwnershipProof.__slots__}


# -- the store the publisher reads ---------------------------------------------------------


class AttestationStore:
    """Per-period proofs on disk: `<dir>/<period>/<chain>-<address>.json` (one proof each,
    written then renamed; a later import of the same wallet and period replaces it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def save(self, proofs: Iterable[OwnershipProof]) -> list[Path]:
        written = []
        for proof in proofs:
            directory = self.path / proof.period
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / f"{proof.chain}-{proof.address}.json"
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(json.dumps(proof.to_dict(), indent=1) + "\n", encoding="utf-8")
            tmp.replace(target)
            written.append(target)
        return written

    def proofs(self) -> list[OwnershipProof]:
        """Every stored proof; OwnershipError naming a file that is not one."""
        out: list[OwnershipProof] = []
        if not self.path.is_dir():
            return out
        for file in sorted(self.path.glob("*/*.json")):
            try:
                proof = OwnershipProof.from_dict(json.loads(file.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise OwnershipError(f"{file}: unreadable attestation: {exc}") from None
            except OwnershipError as exc:
                raise OwnershipError(f"{file}: {exc}") from None
            if proof.kind != "period":
                raise OwnershipError(f"{file}: not a per-period attestation")
            out.append(proof)
        return out

    def covering(self, chain: str, address: str, hour: int) -> OwnershipProof | None:
        """The proof of that wallet whose window covers `hour` (the latest block if several)."""
        best: OwnershipProof | None = None
        for proof in self.proofs():
            if proof.chain != chain or proof.address != address:
                continue
            start, end = parse_period(proof.period).start, parse_period(proof.period).end
            if start <= hour < end and (best is None or proof.block[0] > best.block[0]):
                best = proof
        return best


def expiry_warnings(
    wallets: Sequence[Wallet],
    store: AttestationStore,
    now: int,
    policy: AttestationPolicy = DEFAULT_POLICY,
    within: int = DAY,
) -> list[dict[str, Any]]:
    """Cold wallets whose per-period attestations all stop passing within `within` seconds
    of `now` (or already have): the next period's ceremony is due."""
    latest: dict[tuple[str, str], int] = {}
    period_of: dict[tuple[str, str], str] = {}
    for proof in store.proofs():
        key = (proof.chain, proof.address)
        latest.setdefault(key, -1)
        expiry = expires_at(proof, "cold", policy)
        if expiry > latest[key]:
            latest[key], period_of[key] = expiry, proof.period
    out = []
    for wallet in wallets:
        key = (wallet.chain, wallet.address)
        if wallet.role != "cold" or key not in latest:
            continue
        expiry = latest[key]
        if expiry - now <= within:
            out.append(
                {
                    "rule": "attestation_expires_soon" if expiry > now else "attestation_expired",
                    "chain": wallet.chain,
                    "address": wallet.address,
                    "period": period_of[key],
                    "expires": iso_utc(expiry),
                    "message": f"cold wallet {wallet.address} on {wallet.chain}: its"
                    f" attestation (period {period_of[key]}) "
                    + ("expires" if expiry > now else "expired")
                    + f" at {iso_utc(expiry)}; run `por reserves challenge` for the next"
                    " period and `por reserves attest`",
                }
            )
    return out
