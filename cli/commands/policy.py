"""`rollcure backtest` and `rollcure segment`: the next-best-action policy's commands."""

from __future__ import annotations

from pathlib import Path

import typer


def _setup(config: Path | None, seed: int | None):
    from rollcure.config import load_config

    return load_config(config, seed=seed)


def backtest(
    data: Path = typer.Option(..., "--data", help="Simulated book folder (tables + truth/)."),
    model: str = typer.Option("champion", "--model", help="Registry alias or version of the bundle."),
    bundle: Path | None = typer.Option(None, "--bundle", help="Bundle folder (instead of the registry)."),
    json_out: Path | None = typer.Option(None, "--json-out", help="Write the results as JSON here."),
    plot_out: Path | None = typer.Option(None, "--plot", help="Write a PNG plot of the policies here."),
    config: Path | None = typer.Option(None, "--config", help="YAML configuration file."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seed of the random draws."),
) -> None:
    """Compare oracle, rollcure, risk-score, DPD-ladder and random strategies against the simulator."""
    from rich.console import Console

    from training.policy_runs import backtest_book, load_policy_bundle

    cfg = _setup(config, seed)
    b = load_policy_bundle(cfg, model, bundle)
    backtest_book(cfg, data, b, console=Console(), json_out=json_out, plot_out=plot_out)


def segment(
    data: Path = typer.Option(..., "--data", help="Book folder (raw tables)."),
    out: Path = typer.Option(Path("segments"), "--out", help="Folder for CSV, Parquet and PNG files."),
    as_of: str | None = typer.Option(None, "--as-of", help="Cycle date (default: the latest)."),
    model: str = typer.Option("champion", "--model", help="Registry alias or version of the bundle."),
    bundle: Path | None = typer.Option(None, "--bundle", help="Bundle folder (instead of the registry)."),
    config: Path | None = typer.Option(None, "--config", help="YAML configuration file."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seed of the random draws."),
) -> None:
    """Split the overdue book into ability x willingness and risk x balance segments."""
    import pandas as pd
    from rich.console import Console

    from rollcure.core.errors import InputError
    from training.policy_runs import load_policy_bundle, segment_latest

    if as_of is not None:
        try:
            pd.Timestamp(as_of)
        except ValueError as exc:
            raise InputError(f"--as-of: not a date: {as_of!r}") from exc
    cfg = _setup(config, seed)
    b = load_policy_bundle(cfg, model, bundle)
    segment_latest(cfg, data, b, out_dir=out, as_of=as_of, console=Console())


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `rollcure` app."""
    app.command()(backtest)
    app.command()(segment)
