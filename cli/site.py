"""`por site build DIR`: the static public site from the bundles and the log database."""

from __future__ import annotations

from pathlib import Path

import click

from cli._errors import EXIT_USAGE, Rule, fail, report

__all__ = ["site"]


@click.group()
def site() -> None:
    """The public static site (no external requests, works from any file server).

    \b
    Examples:
      por site build public-site --bundles publication/bundles --log-db sqlite:///por-log.db
    """


@site.command(
    epilog="""\b
Examples:
  por site build public-site --bundles publication/bundles
  por site build /var/www/por --bundles /srv/por/bundles \\
      --log-db postgresql://postgres@127.0.0.1:5432/test
"""
)
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--bundles",
    type=click.Path(file_okay=False),
    default="publication/bundles",
    show_default=True,
    help="The publisher's bundle directory.",
)
@click.option(
    "--log-db",
    "log_db",
    metavar="URL",
    envvar="POR_LOG_DATABASE_URL",
    default="sqlite:///por-log.db",
    show_default=True,
    help="Transparency log + publication records (env POR_LOG_DATABASE_URL).",
)
def build(directory: str, bundles: str, log_db: str) -> None:
    """Build or refresh the site in DIRECTORY: index with the coverage chart, one page per
    hour, the log (entries.jsonl, signed head) and the offline verifier page."""
    from por.errors import PorError

    try:
        if not Path(bundles).is_dir():
            raise click.UsageError(f"--bundles {bundles}: not a directory")
        from por.publish import open_publication_db
        from por.publish.site import build_site

        summary = build_site(Path(directory), Path(bundles), open_publication_db(log_db))
    except click.UsageError as exc:
        fail(f"por site build: {exc.message}", EXIT_USAGE)
    except Exception as exc:
        rules: list[Rule] = [((PorError,), EXIT_USAGE, lambda e: f"por site build: {e}")]
        report(exc, rules, "por site build: ")
    click.echo(f"site {directory}: {summary.hours} hours, {summary.changed} files written")
