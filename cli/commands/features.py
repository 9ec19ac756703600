"""`rollcure features list|docs` and `rollcure validate`: the registry and the data contract.

Bad input raises `InputError`; the CLI shell (`cli.main.run`) prints it on one line and exits 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

features_app = typer.Typer(
    help="The feature registry: list it or write the data dictionary.", no_args_is_help=True
)


def list_cmd(
    group: str = typer.Option(
        None, "--group", help="Only this group (borrower, loan, repayment, contact, action)."
    ),
) -> None:
    """Print the feature registry (name, group, dtype, monotone direction, description)."""
    from rich.console import Console
    from rich.table import Table

    from features.registry import FEATURES, GROUPS
    from rollcure.core.errors import InputError

    if group is not None and group not in GROUPS:
        raise InputError(f"--group: unknown group '{group}' (allowed: {', '.join(GROUPS)})")
    rows = [f for f in FEATURES if group is None or f.group == group]
    table = Table(title=f"{len(rows)} features", show_lines=False)
    for col in ("name", "group", "dtype", "monotone", "description"):
        table.add_column(col, overflow="fold")
    for f in rows:
        table.add_row(f.name, f.group, f.dtype, f"{f.monotone:+d}" if f.monotone else "0", f.description)
    Console(width=160).print(table)


def docs_cmd(
    out: Path = typer.Option(None, "--out", help="Markdown file to write (default: print to stdout)."),
) -> None:
    """Write the Markdown data dictionary of every feature."""
    from features.docs import data_dictionary
    from rollcure.core.errors import InputError

    text = data_dictionary()
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists() and out.is_dir():
        raise InputError(f"--out: is a folder, expected a file: {out}")
    if not out.parent.exists():
        raise InputError(f"--out: folder does not exist: {out.parent}")
    out.write_text(text)
    typer.echo(f"wrote {out}")


def validate_cmd(
    data: Path = typer.Option(..., "--data", help="Folder with the raw tables (Parquet)."),
) -> None:
    """Check the raw tables against the data contract; exit 2 with a report naming the bad rows."""
    from features.schemas import validate_tables
    from rollcure.core.io import read_tables

    tables = read_tables(data)
    validate_tables(tables)
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in tables.items())
    typer.echo(f"ok: {sizes}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `rollcure` app."""
    features_app.command("list")(list_cmd)
    features_app.command("docs")(docs_cmd)
    app.add_typer(features_app, name="features")
    app.command("validate")(validate_cmd)
