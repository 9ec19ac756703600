"""`rollcure backtest`, `rollcure segment` and `rollcure learn`: the next-best-action policy's commands."""

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


def learn(
    data: Path = typer.Option(..., "--data", help="Simulated book folder (written by `rollcure simulate`)."),
    cycles: int = typer.Option(6, "--cycles", min=1, max=60, help="Live months to run."),
    json_out: Path | None = typer.Option(None, "--json-out", help="Write the per-cycle results (JSON) here."),
    plot_out: Path | None = typer.Option(None, "--plot", help="Write the regret curve (PNG) here."),
    config: Path | None = typer.Option(None, "--config", help="YAML configuration file."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seed of the decisions' random draws."),
) -> None:
    """Run rollcure on the simulator's live book month by month: decide, play the month, refit."""
    import json

    from rich.console import Console

    from training.learn import learn_on_book, plot_learning

    cfg = _setup(config, seed)
    result = learn_on_book(cfg, data, cycles, console=Console())
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_json(), indent=1, default=str))
    if plot_out is not None:
        plot_learning(result, plot_out)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `rollcure` app."""
    app.command()(backtest)
    app.command()(segment)
    app.command()(learn)
