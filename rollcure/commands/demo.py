"""`rollcure demo`: the end-to-end run behind the README's first command, and `rollcure version`."""

import typer


def version() -> None:
    """Print the installed rollcure version."""
    from rollcure import __version__

    typer.echo(__version__)


def register(app: typer.Typer) -> None:
    """Add the demo and version commands."""
    app.command()(version)
