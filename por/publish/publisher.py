"""Publishing one hour: snapshot -> bundle -> log + record (one transaction) -> rename ->
anchor -> site. Idempotent, in order, crash-safe, one publisher at a time.

The steps and what a restart does after a kill at any point (`recover`):

1. snapshot: `take_snapshot` writes `<out>/work/<name>/` (public + private) atomically,
   its cut read incrementally from the last published hour's snapshot in `work/` (its
   kept claims and what changed since; a full read when they cannot serve, said by the
   "cut" event). Killed before its rename: the temp dir is removed on restart and the
   snapshot retaken; after: the finished snapshot is reused.
2. bundle: every file but the manifest into `<out>/bundles/.<name>.tmp/`, fsynced.
3. one database transaction: append the log entry, sign the manifest (it states the log
   after the append), write and fsync manifest.json into the temp bundle, sign the log
   head, insert the publication record; commit. Killed before the commit: nothing of the
   hour exists in the database; the temp bundle is removed and the hour redone.
4. rename the temp bundle to `<out>/bundles/<name>/`, fsync the directory. Killed between
   commit and rename: the record holds the manifest bytes; the temp bundle is checked
   against them (signature, every file's hash) and renamed.
5. anchor: one PorAnchor transaction (see anchor.py: a kill after sending is recognised
   on chain), then the record's anchor_tx. Anchors go in log order; the next hour is not
   published before the previous one is anchored (its manifest names that transaction).
6. site: `por.publish.site.build_site` (every file written atomically; rebuilt whole, so a
   kill midway is repaired by the next run).

Hence after any kill and a restart every hour is published exactly once: the log entry
and the record commit together, the bundle directory appears once with the manifest the
record holds, and the anchor is sent at most once per hour (the contract refuses more).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from por.leaflist import LeafListPolicy
from por.log import store as log_store
from por.log.entry import entry_from_manifest
from por.log.head import sign_head
from por.manifest import LogHead, build_manifest
from por.operator.progress import NO_PROGRESS, Progress
from por.operator.signing import SigningKey
from por.publish import records
from por.publish._crash import crashpoint
from por.publish._fsio import fsync_dir, fsync_file, rename_into_place
from por.publish.anchor import AnchorConfig, Anchorer, AnchorRecord
from por.publish.bundle import (
    MANIFEST_NAME,
    bundle_name,
    compared_view,
    differences,
    manifest_extras,
    manifest_file_bytes,
    read_snapshot_facts,
    verify_bundle,
    write_bundle_files,
)
from por.publish.errors import (
    BundleError,
    NotDueError,
    PublishConfigError,
    RecomputedDiffersError,
)
from por.publish.facts import PreviousPublication
from por.publish.records import Publication
from por.snapshot.pieces import DEFAULT_POLICY, PiecePolicy

if TYPE_CHECKING:
    from por.snapshot import LedgerSource, ReserveSetup

__all__ = [
    "HOUR",
    "Outcome",
    "Publisher",
    "PublisherConfig",
    "floor_hour",
    "hour_id",
    "open_publication_db",
]

HOUR = timedelta(hours=1)
EventSink = Callable[..., None]


def hour_id(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _now_iso(clock: Callable[[], datetime]) -> str:
    return hour_id(clock())


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    """Where and how to publish.

    `out` holds `work/` (snapshots, with their private proof stores) and `bundles/`;
    `site` the static site updated after each hour (None: no site). `secret` derives
    nonces and filler tags: the same secret makes a re-run reproduce the tree exactly,
    which is how an existing hour is re-checked. `late_after_s`: a chain read more than
    this after the hour is listed under the manifest's "late". `leaf_list`: how the leaf
    list is published (public, encrypted for auditors, none; `por.leaflist`). `pieces`:
    how each account is split into leaves (`por.snapshot.pieces`).
    """

    out: Path
    key: SigningKey
    secret: bytes
    site: Path | None = None
    reserves: ReserveSetup | None = None
    anchor: AnchorConfig | None = None
    leaf_list: LeafListPolicy = field(default_factory=LeafListPolicy)
    min_leaves: int = 0
    engine: str = "local"
    scheduler: str | None = None  # a Dask cluster's address for engine "dask" (else local)
    late_after_s: int = 900
    pieces: PiecePolicy = DEFAULT_POLICY

    @property
    def work(self) -> Path:
        return self.out / "work"

    @property
    def bundles(self) -> Path:
        return self.out / "bundles"

    @property
    def lock_file(self) -> Path:
        return self.out / "publisher.lock"


@dataclass(frozen=True, slots=True)
class Outcome:
    snapshot_id: str
    status: str  # "published" | "exists"
    log_size: int
    anchor_tx: str | None = None
    late: tuple[str, ...] = field(default=())


def open_publication_db(url: str) -> Engine:
    """The log's database (SQLite or PostgreSQL) with the log and publication tables."""
    log = log_store.TransparencyLog.open(url)
    with log.engine.begin() as conn:
        records.install(conn)
    return log.engine


class Publisher:
    """Publishes hours of one ledger into one log, bundle directory and site."""

    def __init__(
        self,
        db: Engine,
        source: LedgerSource,
        config: PublisherConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        emit: EventSink | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.db = db
        self.progress = progress  # the snapshot's stages, then bundle, anchor, site
        self.source = source
        self.config = _bind_reserves(config)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.emit: EventSink = emit or (lambda event, **fields: None)
        self._anchorer: Anchorer | None = None

    # -- helpers ------------------------------------------------------------------------
    @property
    def anchorer(self) -> Anchorer | None:
        if self.config.anchor is None:
            return None
        if self._anchorer is None:
            self._anchorer = Anchorer(self.config.anchor)
        return self._anchorer

    def lock(self) -> Any:
        """The one-publisher lock (context manager); hold it around `recover` + publishing."""
        return records.publisher_lock(self.db, self.config.lock_file)

    def publications(self) -> list[Publication]:
        with self.db.connect() as conn:
            return records.all_publications(conn)

    def publication(self, snapshot_id: str) -> Publication | None:
        with self.db.connect() as conn:
            return records.get_publication(conn, snapshot_id)

    def _final(self, snapshot_id: str) -> Path:
        return self.config.bundles / bundle_name(snapshot_id)

    def _tmp(self, snapshot_id: str) -> Path:
        return self.config.bundles / f".{bundle_name(snapshot_id)}.tmp"

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> None:
        """Bring disk and chain in line with the database after a crash (see module doc)."""
        cfg = self.config
        cfg.bundles.mkdir(parents=True, exist_ok=True)
        cfg.work.mkdir(parents=True, exist_ok=True)
        pubs = self.publications()
        known = {bundle_name(p.snapshot_id) for p in pubs}
        for entry in cfg.bundles.iterdir():
            name = entry.name
            if name.startswith(".") and name.endswith(".tmp") and name[1:-4] not in known:
                shutil.rmtree(entry, ignore_errors=True)
                self.emit("removed_unpublished_bundle", path=str(entry))
        for entry in cfg.work.iterdir():
            if entry.name.startswith(".") and ".tmp-" in entry.name:
                shutil.rmtree(entry, ignore_errors=True)
        changed = False
        for pub in pubs:
            if not self._final(pub.snapshot_id).exists():
                self._place_bundle(pub)
                changed = True
        for pub in pubs:
            if pub.anchor_tx is None and self.anchorer is not None:
                self._anchor(pub)
                changed = True
        if changed or (cfg.site is not None and not (cfg.site / "index.html").exists()):
            self.update_site()

    def _place_bundle(self, pub: Publication) -> None:
        tmp, final = self._tmp(pub.snapshot_id), self._final(pub.snapshot_id)
        manifest_path = tmp / MANIFEST_NAME
        if not manifest_path.exists() or manifest_path.read_bytes() != pub.manifest:
            raise BundleError(
                f"{pub.snapshot_id} is in the log but its bundle is missing: expected "
                f"{tmp} holding the recorded manifest"
            )
        verify_bundle(tmp, bytes.fromhex(self.config.key.public_key_hex))
        rename_into_place(tmp, final)
        self.emit("bundle_placed", snapshot_id=pub.snapshot_id, path=str(final))

    def _anchor(self, pub: Publication) -> AnchorRecord:
        anchorer = self.anchorer
        assert anchorer is not None
        self.progress.start("anchor")
        begin = time.perf_counter()
        record = anchorer.ensure(
            pub.snapshot_id,
            pub.log_size,
            bytes.fromhex(pub.log_root),
            bytes.fromhex(pub.manifest_sha256),
        )
        with self.db.begin() as conn:
            records.set_anchor(conn, pub.snapshot_id, record.tx, record.block)
        crashpoint("commit")
        self.progress.finish("anchor", time.perf_counter() - begin, {"block": int(record.block)})
        self.emit("anchored", snapshot_id=pub.snapshot_id, tx=record.tx, block=record.block)
        return record

    def update_site(self) -> None:
        if self.config.site is None:
            return
        from por.publish.site import build_site

        self.progress.start("site")
        begin = time.perf_counter()
        build_site(self.config.site, self.config.bundles, self.db)
        self.progress.finish("site", time.perf_counter() - begin, {})
        self.emit("site_updated", path=str(self.config.site))

    # -- publishing -----------------------------------------------------------------------
    def publish_hour(self, at: datetime, *, recheck: bool = False) -> Outcome:
        """Publish the hour `at` (a whole UTC hour), or confirm it exists.

        An existing hour is a no-op (any step a crash left undone is finished); with
        `recheck` the snapshot is recomputed and RecomputedDiffersError raised if the
        manifest would differ. Call `recover()` first, under `lock()`.
        """
        if floor_hour(at) != at.astimezone(UTC):
            raise PublishConfigError(f"{hour_id(at)} is not a whole hour (HH:00:00Z)")
        sid = hour_id(at)
        existing = self.publication(sid)
        if existing is not None:
            if not self._final(sid).exists():
                self._place_bundle(existing)
            if existing.anchor_tx is None and self.anchorer is not None:
                existing = self._republished_anchor(existing)
            if recheck:
                self._recheck(existing, at)
            self.emit("exists", snapshot_id=sid, log_size=existing.log_size)
            return Outcome(sid, "exists", existing.log_size, existing.anchor_tx)
        pubs = self.publications()
        previous = pubs[-1] if pubs else None
        if previous is not None and previous.snapshot_id > sid:
            raise PublishConfigError(
                f"{sid} is before the last published hour {previous.snapshot_id}: "
                "hours are published in order"
            )
        if previous is not None and previous.anchor_tx is None and self.anchorer is not None:
            previous = self._republished_anchor(previous)
        pub, late = self._publish_new(at, sid, previous)
        rename_into_place(self._tmp(sid), self._final(sid))
        self.emit("bundle_placed", snapshot_id=sid, path=str(self._final(sid)))
        anchor_tx = None
        if self.anchorer is not None:
            anchor_tx = self._anchor(pub).tx
        self.update_site()
        self.emit(
            "published",
            snapshot_id=sid,
            log_size=pub.log_size,
            anchor_tx=anchor_tx,
            late=list(late),
        )
        return Outcome(sid, "published", pub.log_size, anchor_tx, late)

    def _republished_anchor(self, pub: Publication) -> Publication:
        record = self._anchor(pub)
        return dataclasses.replace(pub, anchor_tx=record.tx, anchor_block=record.block)

    def _snapshot(
        self, at: datetime, out: Path, *, with_reserves: bool, previous: Path | None = None
    ) -> Path:
        from por.snapshot import take_snapshot
        from por.snapshot.errors import SnapshotError
        from por.snapshot.run import directory_name

        sid = hour_id(at)
        final = out / directory_name(sid)
        if final.exists():
            return final
        try:
            result = take_snapshot(
                self.source,
                sid,
                out,
                secret=self.config.secret,
                reserves=self.config.reserves if with_reserves else None,
                engine=self.config.engine,  # type: ignore[arg-type]
                min_leaves=self.config.min_leaves,
                publish_leaves=self.config.leaf_list.needs_leaves,
                pieces=self.config.pieces,
                progress=self.progress,
                scheduler=self.config.scheduler,
                previous=previous,
            )
        except SnapshotError as exc:
            if type(exc.__cause__).__name__ == "CutNotFinalError":
                raise NotDueError(f"{sid}: {exc}") from None
            raise
        basis = result.basis
        self.emit(
            "cut",
            snapshot_id=sid,
            path=basis.path,
            previous=basis.previous,
            changed=basis.changed,
            reason=basis.reason,
        )
        return final

    def _previous_snapshot(self, previous: Publication | None) -> Path | None:
        """The last published hour's snapshot directory, whose kept claims let this hour's
        cut read only what changed (None: none, or its work directory is gone)."""
        from por.snapshot.run import directory_name

        if previous is None:
            return None
        path = self.config.work / directory_name(previous.snapshot_id)
        return path if path.is_dir() else None

    def _publish_new(
        self, at: datetime, sid: str, previous: Publication | None
    ) -> tuple[Publication, tuple[str, ...]]:
        cfg = self.config
        snapshot_dir = self._snapshot(
            at, cfg.work, with_reserves=True, previous=self._previous_snapshot(previous)
        )
        self.emit("snapshot_ready", snapshot_id=sid, path=str(snapshot_dir))
        self.progress.start("bundle")
        begin = time.perf_counter()
        facts = read_snapshot_facts(snapshot_dir)
        if facts.snapshot_id != sid:
            raise BundleError(f"{snapshot_dir} holds snapshot {facts.snapshot_id}, not {sid}")
        published_at = _now_iso(self.clock)
        prev = None
        if previous is not None:
            anchor = None
            if previous.anchor_tx is not None and self.anchorer is not None:
                anchor = AnchorRecord(
                    self.anchorer.chain_id,
                    self.anchorer.address,
                    previous.anchor_tx,
                    int(previous.anchor_block or 0),
                ).to_json()
            prev = PreviousPublication(previous.snapshot_id, previous.manifest_sha256, anchor)
        tmp = self._tmp(sid)
        if tmp.exists():
            shutil.rmtree(tmp)
        files = write_bundle_files(
            facts,
            tmp,
            leaf_list=cfg.leaf_list,
            previous=prev,
            published_at=published_at,
        )
        extras = manifest_extras(facts, files, prev, published_at, cfg.late_after_s, cfg.leaf_list)
        late = tuple(extras.get("late", ()))
        unsigned_view = {
            "snapshot_id": sid,
            "assets": [{"symbol": a.symbol, "decimals": a.decimals} for a in facts.assets],
            "tree": compared_view(facts)["tree"],
        }
        entry = entry_from_manifest(unsigned_view)
        with self.db.begin() as conn:
            state = log_store.append(conn, entry)
            manifest = build_manifest(
                sid,
                facts.assets,
                facts.height,
                facts.root,
                LogHead(state.size, state.root),
                cfg.key.private,
                extras,
            )
            data = manifest_file_bytes(manifest)
            path = tmp / MANIFEST_NAME
            path.write_bytes(data)
            fsync_file(path)
            fsync_dir(tmp)
            head = sign_head(LogHead(state.size, state.root, published_at), cfg.key)
            pub = Publication(
                snapshot_id=sid,
                log_index=state.size - 1,
                log_size=state.size,
                log_root=state.root.hex(),
                manifest=data,
                manifest_sha256=hashlib.sha256(data).hexdigest(),
                head=json.dumps(head, sort_keys=True),
                published_at=published_at,
                anchor_tx=None,
                anchor_block=None,
            )
            records.insert_publication(conn, pub)
            crashpoint("commit")
        crashpoint("commit")
        self.progress.finish(
            "bundle", time.perf_counter() - begin, {"files": len(files) + 1, "log_size": state.size}
        )
        self.emit("logged", snapshot_id=sid, log_size=state.size, root=state.root.hex())
        return pub, late

    def _recheck(self, pub: Publication, at: datetime) -> None:
        """Recompute the hour's liabilities and compare with its published manifest."""
        scratch = self.config.work / f".recheck-{os.getpid()}.tmp-x"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            facts = read_snapshot_facts(self._snapshot(at, scratch, with_reserves=False))
            published = json.loads(pub.manifest)
            diff = differences(published, compared_view(facts))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if diff:
            raise RecomputedDiffersError(
                f"{pub.snapshot_id} is published, but recomputing it now gives a different "
                f"{', '.join(diff)}: refusing (the published hour stays as it is)"
            )
        self.emit("rechecked", snapshot_id=pub.snapshot_id)

    # -- catching up ----------------------------------------------------------------------
    def due_hours(self, now: datetime, delay: timedelta, since: datetime | None) -> list[datetime]:
        """Hours to publish now, oldest first: after the last published (or from `since`,
        else only the latest due hour) up to the last hour whose finality delay passed."""
        last_due = floor_hour(now - delay)
        pubs = self.publications()
        if pubs:
            start = _parse_hour(pubs[-1].snapshot_id) + HOUR
        elif since is not None:
            start = floor_hour(since)
        else:
            start = last_due
        hours = []
        t = start
        while t <= last_due:
            hours.append(t)
            t += HOUR
        return hours

    def publish_due(
        self, now: datetime, delay: timedelta, since: datetime | None = None
    ) -> list[Outcome]:
        """Publish every due hour in order; stop quietly at one whose cut is not final."""
        outcomes = []
        for hour in self.due_hours(now, delay, since):
            try:
                outcomes.append(self.publish_hour(hour))
            except NotDueError as exc:
                self.emit("not_final", snapshot_id=hour_id(hour), reason=str(exc))
                break
        return outcomes


def _bind_reserves(config: PublisherConfig) -> PublisherConfig:
    """Ownership messages name the manifest key: fill it in, or refuse another one."""
    setup = config.reserves
    key = config.key.public_key_hex
    if setup is None or setup.exchange_key == key:
        return config
    if setup.exchange_key:
        raise PublishConfigError(
            f"the reserves name exchange key {setup.exchange_key}, but the manifests are"
            f" signed by {key}: ownership proofs would not verify"
        )
    return dataclasses.replace(config, reserves=dataclasses.replace(setup, exchange_key=key))


def _parse_hour(snapshot_id: str) -> datetime:
    return datetime.strptime(snapshot_id, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
