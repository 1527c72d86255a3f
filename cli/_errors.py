"""One line on stderr and an exit code for every error a command expects.

Each command group says which of the library's errors it expects and what they mean
(`Rule`s, built lazily so that `por verify proof` imports nothing it does not need);
this module does the rest the same way everywhere: database and file errors, and the
passing through of click's own exits. An error nobody expected (a bug) goes on to
`cli.main`, which reports it in one line too.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "Rule",
    "describe",
    "fail",
    "one_line",
    "report",
    "reporter",
]

EXIT_FAILED = 1  # a check failed, or the input is not a valid proof
EXIT_USAGE = 2  # usage error, unreadable or unusable input: nothing was checked

F = TypeVar("F", bound=Callable[..., Any])
# (error types, exit code (or the code of one such error), message of one such error)
Rule = tuple[
    tuple[type[BaseException], ...],
    int | Callable[[BaseException], int],
    Callable[[BaseException], str],
]


def one_line(message: str) -> str:
    return message.replace("\r", "\\r").replace("\n", "\\n")


def fail(message: str, code: int) -> NoReturn:
    """`message` as one line on stderr, then exit with `code`."""
    click.echo(one_line(message), err=True)
    sys.exit(code)


def describe(exc: BaseException, rules: Sequence[Rule], prefix: str) -> tuple[int, str] | None:
    """(exit code, message) for `exc`: the first rule that matches, else the common ones;
    None for an error nobody expected (a bug: `cli.main` reports it)."""
    for types, code, say in rules:
        if isinstance(exc, types):
            return code if isinstance(code, int) else code(exc), say(exc)
    sa = sys.modules.get("sqlalchemy")
    if sa is not None and isinstance(exc, sa.exc.SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return EXIT_USAGE, f"{prefix}database error: {detail}"
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        return EXIT_USAGE, f"{prefix}{where}{reason}"
    return None


def report(exc: Exception, rules: Sequence[Rule], prefix: str) -> NoReturn:
    """`describe`'s line and exit code for `exc` (call it in an `except` block); an error
    nobody expected goes on up, to `cli.main`."""
    described = describe(exc, rules, prefix)
    if described is None:
        raise exc
    fail(described[1], described[0])


def reporter(prefix: str, rules: Callable[[], Sequence[Rule]]) -> Callable[[F], F]:
    """Decorator: errors raised by the command become `describe`'s line and exit code.

    `prefix` starts the common messages (e.g. "por log: "); `rules()` is called only when
    an error happened, so its imports cost nothing on success.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
                raise
            except Exception as exc:
                report(exc, rules(), prefix)

        return wrapper  # type: ignore[return-value]

    return decorate
