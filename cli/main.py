"""The `rollcure` command line: a thin shell over the package.

Each stage registers its own subcommands (``cli/commands/*.py``); heavy libraries are imported
inside the commands so that ``rollcure --help`` stays fast. Bad input anywhere ends in one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from rich.console import Console
from typer._click import exceptions as _cx  # typer >= 0.29 vendors click (pinned in pyproject)

from cli.commands import REGISTRARS
from rollcure.core.errors import InputError

app = typer.Typer(
    name="rollcure",
    help="Collections decisioning: simulate, build features, train, explain, recommend, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _register in REGISTRARS:
    _register(app)

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this; `main` exits with it)."""
    from rollcure.config import format_validation_error

    try:
        rv = app(args=argv, prog_name="rollcure", standalone_mode=False)
    except _cx.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else "rollcure --help")
        return 0
    except _cx.UsageError as exc:
        _err.print(f"error: {exc.format_message()}", markup=False)
        return 2
    except typer.Abort:
        _err.print("aborted", markup=False)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except InputError as exc:
        _err.print(f"error: {exc}", markup=False)
        return 2
    except ValidationError as exc:
        _err.print(f"error: {format_validation_error(exc)}", markup=False)
        return 2
    return rv if isinstance(rv, int) else 0


def main() -> None:
    """The `rollcure` command: this process reuses the memory it frees (tests calling ``run`` keep
    glibc's defaults)."""
    from rollcure.core.memory_env import reuse_freed_memory

    reuse_freed_memory()
    sys.exit(run())
