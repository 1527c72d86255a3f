"""Crash points for the crash test: `POR_CRASH_AT` makes the process SIGKILL itself.

`POR_CRASH_AT=N` kills at the N-th crash point passed (counted from 1 over all names);
`POR_CRASH_AT=NAME` at the first point called NAME; `POR_CRASH_AT=NAME:N` at its N-th.
Names: fsync, rename, commit, anchor-sent, site. Unset (production): a no-op costing one
dictionary lookup. SIGKILL, not an exception: nothing is flushed, no finally runs, exactly
as when the machine loses power or the OOM killer strikes.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV_CRASH_AT", "crashpoint"]

ENV_CRASH_AT = "POR_CRASH_AT"
_counts: dict[str, int] = {}


def crashpoint(name: str) -> None:
    spec = os.environ.get(ENV_CRASH_AT)
    if not spec:
        return
    total = _counts.get("", 0) + 1
    _counts[""] = total
    mine = _counts.get(name, 0) + 1
    _counts[name] = mine
    target, _, nth = spec.partition(":")
    hit = total == int(target) if target.isdigit() else (target == name and mine == int(nth or "1"))
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
