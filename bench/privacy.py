"""Benchmark: how much of a published day an outside observer links, split and unsplit.

    python bench/privacy.py [--accounts 2000] [--hours 24] [--pieces default] [--cache DIR]
    python bench/privacy.py --from-site DEMO/site [--work DEMO/publication/work]

The day: the sample generator's day (`por demo`'s: 2,000 accounts, 24 hours; or any
`--accounts`), applied hour by hour to an in-memory exchange (bench/_day.py: the ledger
state at the last event before each HH:00, as the SQL cut reads it), and snapshotted every
hour twice from the same ledger state with the demo's snapshot secret: unsplit (one leaf per
account, `PiecePolicy.unsplit()`, the publication before pieces) and with `--pieces` (the
default policy unless given). No reserves, no anchoring: only the leaf lists matter here.

The attacks (bench/_linking.py, where every definition is written out) see only the public
files of consecutive hours: `public/leaves.jsonl` and the index prices of
`public/reconciliation.json`. Ground truth for scoring comes from the private index
(`SnapshotIndex.piece_tags`): never given to the attacks.

Prints ONE line on stdout:
    accounts=N hours=H pieces=SPEC linked_share=... whales_linked=... sibling_leak=...
    unsplit_linked_share=... unsplit_whales_linked=... unsplit_sibling_leak=...
    pieces_per_account=... leaves=... day_s=... snapshot_s=... attack_s=...
linked_share and sibling_leak are fractions (0.0123 = 1.23 %); whales_linked counts of 100;
pieces_per_account is the mean over accounts with a non-zero claim, leaves the mean leaf
count per hour (fillers included). day_s: generating and replaying the day; snapshot_s:
every take_snapshot; attack_s: parsing, attacks and scoring. On stderr, per policy: per
attack the assertions, correct ones and accounts it links on its own (summed over hour
pairs) and how many whales it follows; the whales followed all day (first WHALES_SHOWN),
with their piece counts and which attack linked them in how many hour pairs; what the
siblings reveal (median leak, share of proofs revealing > 1 %, and the share of its
account a non-zero piece holds: the level-0 sibling of most proofs is one such piece).
Goals (issue 16): linked_share <= 1 %, whales_linked <= 5, sibling_leak <= 1 %.

`--cache DIR` keeps each hour's cut (claims, totals, prices) in DIR, so a second run of the
same day skips the replay (the 100,000-account day replays in ~5 minutes).

`--from-site SITE` attacks an already published site instead: every bundle's
`liabilities.jsonl` under SITE/snapshots, in snapshot order, scored with the private
indexes of the publication's work directories (`--work`, default SITE/../publication/work).
Prints the three figures of that publication only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._linking import (  # noqa: E402
    ATTACKS,
    WHALES,
    HourLeaves,
    Links,
    distinct,
    read_leaf_list,
    score_pair,
    sibling_leaks,
)
from por.snapshot import SnapshotIndex, take_snapshot  # noqa: E402
from por.snapshot.pieces import PiecePolicy  # noqa: E402

WHALES_SHOWN = 10  # whales followed all day named on stderr, at most


# -- the published hours ---------------------------------------------------------------------
@dataclass(slots=True)
class Truth:
    """Who owns each leaf of one hour (account number, -1 for fillers), and per account
    its gross USD value; `funded` are the accounts with a non-zero claim."""

    owner: NDArray[np.int64]
    funded: NDArray[np.int64]
    usd: NDArray[np.float64]


class Accounts:
    """Account ids -> numbers, the same over every hour of a run."""

    def __init__(self) -> None:
        self.number: dict[str, int] = {}

    def __call__(self, account: str) -> int:
        n = self.number.get(account)
        if n is None:
            n = self.number[account] = len(self.number)
        return n

    def __len__(self) -> int:
        return len(self.number)

    def names(self) -> list[str]:
        return list(self.number)


def read_public(public: Path, leaf_file: Path) -> HourLeaves:
    """An hour's leaves and prices, from what the bundle publishes."""
    described = public / "snapshot.json"
    if not described.exists():  # a site bundle: the manifest names the assets
        described = public / "manifest.json"
    snapshot = json.loads(described.read_text(encoding="utf-8"))
    recon = json.loads((public / "reconciliation.json").read_text(encoding="utf-8"))
    usd = recon.get("usd") or {}
    prices = {a["asset"]: int(a["price"]) for a in usd.get("assets", [])}
    assets = snapshot["assets"]
    return read_leaf_list(
        leaf_file,
        snapshot["snapshot_id"],
        [int(a["decimals"]) for a in assets],
        [prices.get(a["symbol"]) for a in assets],
        int(usd.get("price_decimals", 6)),
    )


def read_truth(snapshot_dir: Path, hour: HourLeaves, accounts: Accounts) -> Truth:
    position = {tag: i for i, tag in enumerate(hour.tags)}
    owner = np.full(hour.count, -1, dtype=np.int64)
    for account, tag in SnapshotIndex(snapshot_dir).piece_tags(hour.snapshot_id):
        owner[position[tag.hex()]] = accounts(account)
    n = len(accounts)
    mine = owner >= 0
    usd = np.bincount(owner[mine], weights=hour.usd[mine], minlength=n).astype(np.float64)
    funded = distinct(owner[mine & hour.nonzero])
    return Truth(owner, funded, usd)


# -- scoring a day ----------------------------------------------------------------------------
@dataclass(slots=True)
class DayScore:
    """The running figures of one policy over a day."""

    linked: int = 0
    counted: int = 0
    pairs: list[set[int]] = field(default_factory=list)
    funded: list[set[int]] = field(default_factory=list)
    first_usd: NDArray[np.float64] | None = None
    leaks: list[NDArray[np.float64]] = field(default_factory=list)
    per_attack: dict[str, list[int]] = field(default_factory=dict)
    alone: list[dict[str, set[int]]] = field(default_factory=list)
    piece_counts: list[NDArray[np.int64]] = field(default_factory=list)
    piece_shares: list[NDArray[np.float64]] = field(default_factory=list)
    leaves: int = 0
    hours: int = 0
    pieces: int = 0
    funded_accounts: int = 0
    previous: tuple[HourLeaves, Truth] | None = None

    def add_hour(self, hour: HourLeaves, truth: Truth, n_accounts: int) -> None:
        self.hours += 1
        self.leaves += hour.count
        self.pieces += int((truth.owner >= 0).sum() - _zero_pieces(hour, truth))
        self.funded_accounts += int(truth.funded.size)
        self.funded.append(set(truth.funded.tolist()))
        if self.first_usd is None:
            self.first_usd = truth.usd.copy()
        self.leaks.append(sibling_leaks(truth.owner, hour.usd, hour.nonzero))
        held = (truth.owner >= 0) & hour.nonzero
        owners = truth.owner[held]
        self.piece_counts.append(np.bincount(owners, minlength=n_accounts))
        self.piece_shares.append(hour.usd[held] / np.maximum(truth.usd[owners], 1e-300))
        if self.previous is not None:
            before, truth_before = self.previous
            found: dict[str, Links] = {name: run(before, hour) for name, run in ATTACKS.items()}
            counted = np.intersect1d(truth_before.funded, truth.funded)
            width = max(n_accounts, 1)
            owner_a = truth_before.owner
            score = score_pair(found, owner_a, truth.owner, counted, width)
            self.linked += int(score.linked.size)
            self.counted += score.counted
            self.pairs.append(set(score.linked.tolist()))
            self.alone.append({k: set(v.tolist()) for k, v in score.alone.items()})
            for name, figures in score.per_attack.items():
                total = self.per_attack.setdefault(name, [0, 0, 0])
                for k, v in enumerate(figures):
                    total[k] += v
        self.previous = (hour, truth)

    def figures(self) -> tuple[float, int, float]:
        share = self.linked / self.counted if self.counted else 0.0
        leak = float(np.median(np.concatenate(self.leaks))) if self.leaks else 0.0
        return share, self.whales_linked(), leak

    def whales(self) -> list[int]:
        """The WHALES largest accounts at the first hour among those funded every hour."""
        if not self.funded or self.first_usd is None:
            return []
        first = self.first_usd
        always = set.intersection(*self.funded)
        return sorted(always, key=lambda a: (-float(first[a]), a))[:WHALES]

    def whales_linked(self) -> int:
        """How many whales are linked in every hour pair."""
        if not self.pairs:
            return 0
        return sum(1 for a in self.whales() if all(a in linked for linked in self.pairs))


def _zero_pieces(hour: HourLeaves, truth: Truth) -> int:
    return int(((truth.owner >= 0) & ~hour.nonzero).sum())


# -- the generated day --------------------------------------------------------------------------
def _load_generator() -> Any:
    from cli._demo_run import load_generator

    return load_generator()


class CachedCut:
    """A cut read back from --cache (the same answers as bench._day.MemoryCut)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.seq = data["seq"]
        self.time_ms = data["time_ms"]
        self._d = data

    def assets(self) -> list[tuple[str, int]]:
        return list(self._d["assets"])

    def claims(self) -> Iterator[tuple[str, Sequence[int]]]:
        return iter(self._d["claims"])

    def customer_totals(self) -> Mapping[str, tuple[int, int]]:
        return dict(self._d["totals"])

    custody_account = "@custody"

    def system_balances(self) -> Mapping[tuple[str, str], int]:
        return dict(self._d["system"])

    def custody(self) -> Mapping[str, int]:
        return dict(self._d["custody"])

    def in_flight(self) -> Mapping[str, int]:
        return dict(self._d["in_flight"])

    def price_decimals(self) -> int:
        return int(self._d["price_decimals"])

    def index_prices(self) -> Mapping[str, int] | None:
        prices = self._d["prices"]
        return None if prices is None else dict(prices)

    def borrower_collateral(self) -> None:
        return None

    def borrower_shortfall(self) -> None:
        return None


class CachedSource:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def cut(self, boundary_ms: int) -> Any:
        from contextlib import nullcontext

        return nullcontext(CachedCut(self.data))


def _cut_data(source: Any, boundary_ms: int) -> dict[str, Any]:
    with source.cut(boundary_ms) as cut:
        return {
            "seq": cut.seq,
            "time_ms": cut.time_ms,
            "assets": cut.assets(),
            "claims": [(a, list(v)) for a, v in cut.claims()],
            "totals": dict(cut.customer_totals()),
            "system": dict(cut.system_balances()),
            "custody": dict(cut.custody()),
            "in_flight": dict(cut.in_flight()),
            "price_decimals": cut.price_decimals(),
            "prices": cut.index_prices(),
        }


def day_sources(accounts: int, hours: int, cache: Path | None) -> Iterator[tuple[int, Any]]:
    """(boundary ms, a LedgerSource cut at it) per hour, replayed or from the cache."""
    from bench._day import run_day

    gen = _load_generator()
    where = None if cache is None else cache / f"day-{accounts}-{hours}"
    if where is not None and (where / "done").exists():
        for h in range(1, hours + 1):
            with open(where / f"hour-{h:02d}.pickle", "rb") as handle:
                yield gen.hour_ms(h), CachedSource(pickle.load(handle))
        return
    day = gen.generate_day(accounts=accounts, hours=hours)
    lines = list(gen.config_lines()) + list(day.lines)
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    for h, (boundary, source) in enumerate(run_day(gen, lines, hours), start=1):
        if where is None:
            yield boundary, source
            continue
        data = _cut_data(source, boundary)
        tmp = where / f".hour-{h:02d}.tmp"
        with open(tmp, "wb") as handle:
            pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(where / f"hour-{h:02d}.pickle")
        yield boundary, CachedSource(data)
    if where is not None:
        (where / "done").write_text("complete\n", encoding="utf-8")


def _snapshot_id(boundary_ms: int) -> str:
    return datetime.fromtimestamp(boundary_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_generated(args: argparse.Namespace) -> dict[str, str]:
    gen = _load_generator()
    secret = bytes.fromhex(gen.demo_keys()["snapshot_secret"])
    policies = {"unsplit": PiecePolicy.unsplit(), "split": PiecePolicy.parse(args.pieces)}
    scores = {name: DayScore() for name in policies}
    accounts = Accounts()
    timer = {"day": 0.0, "snapshot": 0.0, "attack": 0.0}
    cache = Path(args.cache) if args.cache else None
    with tempfile.TemporaryDirectory(prefix="por-privacy-") as tmp:
        clock = time.perf_counter()
        for boundary, source in day_sources(args.accounts, args.hours, cache):
            timer["day"] += time.perf_counter() - clock
            sid = _snapshot_id(boundary)
            for name, policy in policies.items():
                clock = time.perf_counter()
                result = take_snapshot(
                    source, sid, Path(tmp) / name, secret=secret, engine="serial", pieces=policy
                )
                timer["snapshot"] += time.perf_counter() - clock
                clock = time.perf_counter()
                public = result.directory / "public"
                hour = read_public(public, public / "leaves.jsonl")
                truth = read_truth(result.directory, hour, accounts)
                scores[name].add_hour(hour, truth, len(accounts))
                shutil.rmtree(result.directory)
                timer["attack"] += time.perf_counter() - clock
            print(f"{sid}: {_progress(scores)}", file=sys.stderr, flush=True)
            clock = time.perf_counter()
    split, unsplit = scores["split"], scores["unsplit"]
    out = {"accounts": str(args.accounts), "hours": str(args.hours)}
    out["pieces"] = policies["split"].describe()
    out.update(_figures("", split))
    out.update(_figures("unsplit_", unsplit))
    out["pieces_per_account"] = f"{split.pieces / max(1, split.funded_accounts):.2f}"
    out["leaves"] = str(split.leaves // max(1, split.hours))
    out.update({f"{k}_s": f"{v:.1f}" for k, v in timer.items()})
    for name, score in scores.items():
        _report_attacks(name, score, accounts)
    return out


def _figures(prefix: str, score: DayScore) -> dict[str, str]:
    share, whales, leak = score.figures()
    return {
        f"{prefix}linked_share": f"{share:.4f}",
        f"{prefix}whales_linked": str(whales),
        f"{prefix}sibling_leak": f"{leak:.4f}",
    }


def _progress(scores: dict[str, DayScore]) -> str:
    parts = []
    for name, score in scores.items():
        last = len(score.pairs[-1]) if score.pairs else 0
        parts.append(f"{name} leaves={score.previous[0].count if score.previous else 0} "
                     f"linked_last_pair={last}")  # fmt: skip
    return "; ".join(parts)


def _report_attacks(name: str, score: DayScore, accounts: Accounts) -> None:
    """Per attack, and what links the whales and what the siblings reveal (stderr)."""
    say = functools.partial(print, file=sys.stderr)
    say(f"{name}: linked {score.linked} of {score.counted} account-hour pairs")
    for attack, (asserted, correct, alone) in score.per_attack.items():
        say(f"  {name} {attack}: assertions={asserted} correct={correct} "
            f"accounts_linked_alone={alone}")  # fmt: skip
    whales, pairs = score.whales(), len(score.alone)
    for attack in score.per_attack:
        counts = [sum(a in linked[attack] for linked in score.alone) for a in whales]
        every = sum(c == pairs for c in counts)
        half = sum(2 * c >= pairs for c in counts)
        say(f"  {name} {attack} on whales: linked in every pair {every}, in half the pairs "
            f"{half}, whale-pairs {sum(counts)} of {len(whales) * pairs}")  # fmt: skip
    names = accounts.names()
    followed = [(r, a) for r, a in enumerate(whales, 1) if all(a in x for x in score.pairs)]
    if len(followed) > WHALES_SHOWN:
        say(f"  {name}: {len(followed)} whales followed all day, the first {WHALES_SHOWN}:")
    for rank, a in followed[:WHALES_SHOWN]:
        pieces = [int(c[a]) for c in score.piece_counts]
        by = {k: sum(a in linked[k] for linked in score.alone) for k in score.per_attack}
        say(f"  {name} whale #{rank} {names[a]} followed all day: "
            f"{float(score.first_usd[a]):,.0f} USD at the first hour, "  # type: ignore[index]
            f"pieces {min(pieces)}-{max(pieces)}, pairs linked per attack {by}")  # fmt: skip
    if score.leaks:
        leaks = np.concatenate(score.leaks)
        shares = np.concatenate(score.piece_shares)
        say(
            f"  {name} siblings: proofs {leaks.size}, median leak {np.median(leaks):.4f}, "
            f"proofs revealing > 1 % of another account {(leaks > 0.01).mean():.3f}; "
            f"a non-zero piece holds a median {np.median(shares):.4f} of its account "
            f"(p10 {np.percentile(shares, 10):.4f}, p90 {np.percentile(shares, 90):.4f})"
        )


# -- a published site ---------------------------------------------------------------------------
def run_site(args: argparse.Namespace) -> dict[str, str]:
    site = Path(args.from_site)
    work = Path(args.work) if args.work else site.parent / "publication" / "work"
    bundles = sorted(p for p in (site / "snapshots").iterdir() if (p / "manifest.json").exists())
    if not bundles:
        raise SystemExit(f"no bundles under {site / 'snapshots'}")
    score = DayScore()
    accounts = Accounts()
    for bundle in bundles:
        leaf_file = bundle / "liabilities.jsonl"
        if not leaf_file.exists():
            raise SystemExit(f"{bundle}: no public liabilities.jsonl to attack")
        hour = read_public(bundle, leaf_file)
        truth = read_truth(work / bundle.name, hour, accounts)
        score.add_hour(hour, truth, len(accounts))
    _report_attacks("site", score, accounts)
    out = {"site": str(site), "hours": str(score.hours)}
    out.update(_figures("", score))
    out["pieces_per_account"] = f"{score.pieces / max(1, score.funded_accounts):.2f}"
    out["leaves"] = str(score.leaves // max(1, score.hours))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--pieces", default="default", help="split policy (PiecePolicy.parse)")
    parser.add_argument("--cache", help="keep / reuse the day's hourly cuts here")
    parser.add_argument("--from-site", help="attack this published site instead")
    parser.add_argument("--work", help="the publication's work directory (ground truth)")
    args = parser.parse_args()
    started = time.perf_counter()
    out = run_site(args) if args.from_site else run_generated(args)
    print(f"wall={time.perf_counter() - started:.1f}s load_avg={os.getloadavg()[0]:.2f}",
          file=sys.stderr)  # fmt: skip
    print(" ".join(f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
