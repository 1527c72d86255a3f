"""Progress of long stages (cut, pieces, tree, proof store, reserves, bundle, site): reported,
never printed.

`por` never writes to a terminal: a long operation calls a `Progress` it was given (the
CLI renders it as a progress bar on a terminal, and `por schedule` logs one JSON line per
finished stage). Without one, `NO_PROGRESS` does nothing.

Calls, in order, for each stage: `start(name, total)` (total: the units the stage will
advance by, None when unknown), any number of `advance(n)`, then `finish(name, seconds,
counts)` (counts: what the stage produced, e.g. {"accounts": 1000000}). Stages do not nest:
a stage finishes before the next starts. A stage that fails never finishes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

__all__ = ["NO_PROGRESS", "NoProgress", "Progress", "StageCounts", "stage"]


class Progress(Protocol):
    """Receives the stages of a long operation (see the module docstring)."""

    def start(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def finish(
        self,
        name: str,
        seconds: float,  # float-ok: a stage's wall seconds
        counts: Mapping[str, int],
    ) -> None: ...


class NoProgress:
    """The progress nobody watches."""

    def start(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(
        self,
        name: str,
        seconds: float,  # float-ok: seconds
        counts: Mapping[str, int],
    ) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()

StageCounts = dict[str, int]
"""What a stage reports when it finishes; the body of `stage` fills it."""


@contextmanager
def stage(progress: Progress, name: str, total: int | None = None) -> Iterator[StageCounts]:
    """`start`, run the body, then `finish` with its wall time and the counts the body put
    in the yielded dict (nothing is finished when the body raises)."""
    counts: StageCounts = {}
    progress.start(name, total)
    begin = time.perf_counter()
    yield counts
    progress.finish(name, time.perf_counter() - begin, counts)
