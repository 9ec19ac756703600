"""`rollcure import uci`: turn the public UCI credit-card file into rollcure raw tables."""

from __future__ import annotations

from pathlib import Path

import typer

#: How many account IDs per problem the console lists (all of them go to uci/row_problems.parquet).
_IDS_SHOWN = 10

import_app = typer.Typer(help="Import external data sets into rollcure raw tables.", no_args_is_help=True)


@import_app.command("uci")
def import_uci_command(
    csv: Path = typer.Option(..., "--csv", help="The UCI 'default of credit card clients' CSV file."),
    out: Path = typer.Option(..., "--out", help="Data folder to write the raw tables into."),
    min_payment_rate: float = typer.Option(
        0.05, help="Nominal minimum payment as a share of the limit (sizes instalment and arrears)."
    ),
) -> None:
    """One card loan per account, monthly cycles April–September 2005, DPD from the status codes."""
    from pydantic import ValidationError
    from rich.console import Console

    from adapters.config import UciImportConfig
    from adapters.uci import import_uci, run_config_path
    from rollcure.config import format_validation_error
    from rollcure.core.errors import InputError

    try:
        cfg = UciImportConfig(min_payment_rate=min_payment_rate)
    except ValidationError as exc:
        raise InputError(f"--min-payment-rate: {format_validation_error(exc)}") from exc
    result = import_uci(csv, out, cfg)
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"imported {result.n_imported} of {result.n_rows} accounts into {out} "
        f"({result.n_rejected} rejected)", markup=False,
    )
    grouped = result.problems.groupby(["action", "column", "problem"], sort=True)["ID"]
    for (action, column, problem), ids in grouped:
        shown = ", ".join(ids.iloc[:_IDS_SHOWN]) + (" …" if len(ids) > _IDS_SHOWN else "")
        console.print(f"  {action}: {column}: {problem}: {len(ids)} row(s), ID {shown}", markup=False)
    if len(result.problems):
        console.print(f"  full list: {out / 'uci' / 'row_problems.parquet'}", markup=False)
    console.print(f"next: rollcure train --data {out} --config {run_config_path(out)}", markup=False)


def register(app: typer.Typer) -> None:
    """Add `rollcure import …` to the app."""
    app.add_typer(import_app, name="import")
