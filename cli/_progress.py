"""Rendering `por.operator.progress.Progress`: a progress bar on a terminal, JSON lines in a log.

`por` only reports stages; here they become a bar per stage on stderr (only when stderr is
a terminal: piped output and logs stay clean) and, for `por schedule`, one JSON line per
finished stage in its log: {"event": "stage", "stage", "seconds", ...counts}.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from por.operator.progress import NO_PROGRESS, Progress

__all__ = ["JsonStages", "RichStages", "Tee", "terminal_progress"]

_TASKS_SHOWN = 16  # the stages of the current hour and the end of the previous one


class RichStages:
    """One rich task per stage on `stream`: a bar when the stage has a total, else a pulse
    with the units done so far; a finished stage stays on screen with its time (the last
    `_TASKS_SHOWN` stages)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            SpinnerColumn(finished_text="done"),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[counts]}"),
            console=Console(file=stream),
            transient=False,
        )
        self._task: Any = None
        self._running = False

    def start(self, name: str, total: int | None = None) -> None:
        if not self._running:
            self._bar.start()
            self._running = True
        while len(self._bar.task_ids) >= _TASKS_SHOWN:  # `por schedule` runs for days
            self._bar.remove_task(self._bar.task_ids[0])
        self._task = self._bar.add_task(name, total=total, counts="")

    def advance(self, n: int = 1) -> None:
        if self._task is not None and n:
            self._bar.advance(self._task, n)

    def finish(self, name: str, seconds: float, counts: Mapping[str, int]) -> None:
        if self._task is None:
            return
        task = self._bar.tasks[-1]
        done = task.completed or 1
        self._bar.update(
            self._task,
            total=task.total or done,
            completed=task.total or done,
            counts=" ".join(f"{k}={v}" for k, v in counts.items()),
        )
        self._bar.stop_task(self._task)
        self._task = None

    def close(self) -> None:
        if self._running:
            self._bar.stop()
            self._running = False


class JsonStages:
    """One log record per finished stage: `log("stage", stage=..., seconds=..., **counts)`."""

    def __init__(self, log: Callable[..., None]) -> None:
        self._log = log

    def start(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self, name: str, seconds: float, counts: Mapping[str, int]) -> None:
        self._log("stage", stage=name, seconds=round(seconds, 3), **counts)


class Tee:
    """Every call to each of `targets`."""

    def __init__(self, *targets: Progress) -> None:
        self._targets = targets

    def start(self, name: str, total: int | None = None) -> None:
        for t in self._targets:
            t.start(name, total)

    def advance(self, n: int = 1) -> None:
        for t in self._targets:
            t.advance(n)

    def finish(self, name: str, seconds: float, counts: Mapping[str, int]) -> None:
        for t in self._targets:
            t.finish(name, seconds, counts)


@contextmanager
def terminal_progress(stream: TextIO | None = None) -> Iterator[Progress]:
    """A bar on `stream` (stderr) when it is a terminal, else `NO_PROGRESS`; the bar is
    stopped (the cursor given back) however the block ends."""
    out = stream or sys.stderr
    if not out.isatty():
        yield NO_PROGRESS
        return
    stages = RichStages(out)
    try:
        yield stages
    finally:
        stages.close()
