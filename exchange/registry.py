"""The command registry: how engine modules plug commands, jobs and replay hooks into the ledger.

A module (core, matching, lending, settlement, ...) exposes `register(registry)` and is
listed in ENGINE_MODULES. The API is documented in docs/ledger.md ("Extending the engine").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from exchange.model import ANY, CORE_BUCKETS, NEGATIVE, POSITIVE, Event

if TYPE_CHECKING:
    from exchange.state import LedgerState

__all__ = [
    "ENGINE_MODULES",
    "CommandSpec",
    "JobSpec",
    "Registry",
    "build_registry",
    "default_registry",
]

ENGINE_MODULES: tuple[str, ...] = (
    "exchange.core",
    "exchange.matching",
    "exchange.pricing",
    "exchange.lending",
    "exchange.margin",
    "exchange.settlement",
    "exchange.liquidation",
)
"""Modules whose `register(registry)` builds the default registry, in this order.

A listed module that is not installed (or has no `register` yet) is skipped.
"""

# A handler and a job receive the engine's `exchange.engine.Context` (typed `Any` here: the
# engine builds on this module, so naming its `Context` back would tie the two both ways).
Parser = Callable[[dict[str, Any]], Any]
Handler = Callable[[Any, Any], None]
"""`handle(ctx: Context, params)`: applies the ledger rules of one parsed command."""
JobRun = Callable[[Any, int], None]
"""`run(ctx: Context, instant)`: one run of a periodic job at `instant` (ms)."""
ReplayHook = Callable[["LedgerState", Event], None]
DigestPart = Callable[["LedgerState"], bytes]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command of the log: `parse` checks shape, `handle` applies ledger rules.

    `time_field` names the field that moves the clock before the handler runs
    ("ts" for every command; "time" for `clock`).
    """

    name: str
    parse: Parser
    handle: Handler
    time_field: str = "ts"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A periodic job: runs once per instant k*period_ms (ms since the epoch) the clock passes.

    A job must not read the clock (`instant`, `ctx.time`) unless `reads_clock`: its effect
    is a function of the ledger state, so a run that recorded nothing is not repeated
    until some event changes the state (the engine parks it over a long jump). A job with
    `reads_clock` runs at every instant.
    """

    name: str
    period_ms: int
    run: JobRun
    reads_clock: bool = False


@dataclass(slots=True)
class Registry:
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    jobs: list[JobSpec] = field(default_factory=list)
    replay_hooks: dict[str, list[ReplayHook]] = field(default_factory=dict)
    digests: dict[str, DigestPart] = field(default_factory=dict)
    states: dict[str, Callable[[], Any]] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=lambda: dict(CORE_BUCKETS))

    def command(self, name: str, parse: Parser, handle: Handler, *, time_field: str = "ts") -> None:
        """Register command `name` (the `cmd` of a log line)."""
        if name in self.commands:
            raise ValueError(f"command {name!r} is already registered")
        self.commands[name] = CommandSpec(name, parse, handle, time_field)

    def job(self, name: str, period_ms: int, run: JobRun, *, reads_clock: bool = False) -> None:
        """Register a periodic job. It is recorded as an event (kind "job", cmd `name`)
        only when it posts, emits or rejects. `reads_clock`: see `JobSpec`."""
        if period_ms <= 0:
            raise ValueError("period_ms must be positive")
        if any(j.name == name for j in self.jobs) or name in self.commands:
            raise ValueError(f"job {name!r} is already registered")
        self.jobs.append(JobSpec(name, period_ms, run, reads_clock))

    def on_replay(self, cmd: str, hook: ReplayHook) -> None:
        """Call `hook(state, event)` for every accepted event of `cmd` (a command or job name)
        while rebuilding state from the journal, after the event's postings are applied."""
        self.replay_hooks.setdefault(cmd, []).append(hook)

    def state(self, name: str, factory: Callable[[], Any]) -> None:
        """Give a fresh LedgerState `state.ext[name] = factory()` (a module's own state)."""
        if name in self.states:
            raise ValueError(f"state {name!r} is already registered")
        self.states[name] = factory

    def digest(self, name: str, part: DigestPart) -> None:
        """Add `part(state)` (deterministic bytes of the module's state) to the state digest."""
        self.digests[name] = part

    def bucket(self, name: str, sign: str) -> None:
        """Declare a bucket and its allowed sign (POSITIVE, NEGATIVE or ANY)."""
        if sign not in (POSITIVE, NEGATIVE, ANY):
            raise ValueError(f"unknown sign {sign!r}")
        if self.buckets.get(name, sign) != sign:
            raise ValueError(f"bucket {name!r} is already registered with another sign")
        self.buckets[name] = sign


def build_registry(modules: tuple[str, ...] = ENGINE_MODULES) -> Registry:
    registry = Registry()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register = getattr(module, "register", None)
        if register is not None:
            register(registry)
    return registry


@cache
def default_registry() -> Registry:
    """The registry of every installed engine module (built once per process)."""
    return build_registry()
