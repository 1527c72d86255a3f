"""Entry point of the `por` command.

Sub-commands are imported lazily (only the one being run), so that `por verify proof`
starts without importing web3, solana, sqlalchemy, dask or numpy.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

# name -> "module:attribute" of a click command or group
_COMMANDS: dict[str, str] = {
    "exchange": "cli.exchange:exchange",
    "verify": "cli.verify:verify",
    "keys": "cli.keys:keys",
    "log": "cli.log:log",
    "snapshot": "cli.snapshot:snapshot",
    "proof": "cli.proof:proof",
    "publish": "cli.publish:publish",
    "reserves": "cli.reserves:reserves",
    "schedule": "cli.publish:schedule",
    "site": "cli.site:site",
    "demo": "cli.demo:demo",
    "watch": "cli.watch:watch",
}


class LazyGroup(click.Group):
    """A group whose sub-commands live in their own modules and load on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if self._importable(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    @staticmethod
    def _importable(name: str) -> bool:
        module_name = _COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="por-toolkit", prog_name="por")
def cli() -> None:
    """Proof of reserves for a cross-margin exchange.

    \b
    Examples:
      por demo
      por exchange run sample_data/commands.jsonl
      por verify proof alice.json --manifest manifest.json --public-key HEX
    """


DEBUG_ENV = "POR_DEBUG"  # set to 1 to see the traceback of an internal error


def main(argv: list[str] | None = None) -> Any:
    """Run `por`; an error no command expected (a bug) is still one line and exit 2.

    Each command maps the errors it expects to its own one-line messages and exit codes;
    this is the net under them, so that no input ever ends in a traceback.
    """
    try:
        return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="por")
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        text = f"{type(exc).__name__}: {exc}".replace("\r", "\\r").replace("\n", "\\n")
        click.echo(
            f"por: internal error (please report it; {DEBUG_ENV}=1 shows the traceback): {text}",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
