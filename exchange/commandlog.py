"""Running a JSON Lines command log against an exchange, with group commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exchange.engine import Exchange
from exchange.errors import CommandLineError, InvalidCommandError

__all__ = ["DEFAULT_BATCH", "MAX_LINE_BYTES", "RunSummary", "run_file", "run_lines"]

DEFAULT_BATCH = 1000  # commands per transaction in `por exchange run`
MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class RunSummary:
    accepted: int
    rejected: int
    last_seq: int

    @property
    def commands(self) -> int:
        return self.accepted + self.rejected


def run_lines(
    exchange: Exchange, lines: Iterable[bytes], name: str, batch: int = DEFAULT_BATCH
) -> RunSummary:
    """Apply lines (bytes) one by one; commit every `batch` commands.

    An invalid line commits what came before it and raises CommandLineError(name, n, reason).
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    accepted = rejected = 0
    in_batch = 0
    for number, raw in enumerate(lines, start=1):
        try:
            if len(raw) > MAX_LINE_BYTES:
                raise InvalidCommandError(f"line longer than {MAX_LINE_BYTES} bytes")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidCommandError("line is not UTF-8") from None
            if not text.strip():
                continue
            event = exchange.apply_line(text)
        except InvalidCommandError as exc:
            exchange.flush()
            raise CommandLineError(name, number, str(exc)) from None
        if event.status == "accepted":
            accepted += 1
        else:
            rejected += 1
        in_batch += 1
        if in_batch >= batch:
            exchange.flush()
            in_batch = 0
    exchange.flush()
    return RunSummary(accepted, rejected, exchange.state.seq)


def run_file(exchange: Exchange, path: str | Path, batch: int = DEFAULT_BATCH) -> RunSummary:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, lines streamed
    except OSError as exc:
        raise InvalidCommandError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        return run_lines(exchange, handle, str(path), batch)
