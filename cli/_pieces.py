"""The `--pieces` option, declared once for `por snapshot`, `publish`, `schedule` and `demo`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["pieces_option"]

PIECES_HELP = (
    "How each account is split into leaves (pieces) this hour: 'default'"
    " (min=16,max=64,cap=900,extra=0), 'none' (one leaf per account: links accounts hour"
    " to hour, for comparison only) or key=value pairs from min, max, cap (per-mille"
    " quantile of the hour's amounts a piece holds at most), extra (per-mille chance of one"
    " more piece). See docs/snapshot.md."
)


def pieces_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--pieces",
        "pieces",
        default="default",
        show_default=True,
        metavar="POLICY",
        help=PIECES_HELP,
    )(func)
