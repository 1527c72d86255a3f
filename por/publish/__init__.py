"""Hourly publication: bundles, the log append, the on-chain anchor, the site, the scheduler.

See docs/operator.md. `publisher.Publisher.publish_hour` does one hour; `scheduler`
runs it every hour; `bundle.verify_bundle` checks a bundle on disk.
"""

from por.publish.anchor import AnchorConfig, Anchorer, AnchorRecord
from por.publish.bundle import (
    BUNDLE_FORMAT,
    MANIFEST_NAME,
    read_snapshot_facts,
    verify_bundle,
)
from por.publish.errors import (
    AnchorError,
    BundleError,
    LockedError,
    NotDueError,
    PublishConfigError,
    PublishError,
    RecomputedDiffersError,
)
from por.publish.facts import PreviousPublication, SnapshotFacts
from por.publish.publisher import (
    Outcome,
    Publisher,
    PublisherConfig,
    floor_hour,
    hour_id,
    open_publication_db,
)

__all__ = [
    "BUNDLE_FORMAT",
    "MANIFEST_NAME",
    "AnchorConfig",
    "AnchorError",
    "AnchorRecord",
    "Anchorer",
    "BundleError",
    "LockedError",
    "NotDueError",
    "Outcome",
    "PreviousPublication",
    "PublishConfigError",
    "PublishError",
    "Publisher",
    "PublisherConfig",
    "RecomputedDiffersError",
    "SnapshotFacts",
    "floor_hour",
    "hour_id",
    "open_publication_db",
    "read_snapshot_facts",
    "verify_bundle",
]
