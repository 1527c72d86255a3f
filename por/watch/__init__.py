"""`por watch`: reserves against the last published hour's net liabilities, between the
hours, block by block (Ethereum) and slot by slot (Solana).

`coverage` decides (pure); `hour` reads and verifies the site's last hour, `chains`
reads the wallets from the nodes, `run` is the loop (edges).
"""

from por.watch.coverage import Coverage, CoverageTracker, WatchEvent, coverage
from por.watch.hour import HourRejectedError, WatchedHour, WatchInputError, load_latest_hour
from por.watch.run import WatchConfig, run_watch

__all__ = [
    "Coverage",
    "CoverageTracker",
    "HourRejectedError",
    "WatchConfig",
    "WatchEvent",
    "WatchInputError",
    "WatchedHour",
    "coverage",
    "load_latest_hour",
    "run_watch",
]
