"""CLI commands of this stage."""

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `rollcure` app."""
