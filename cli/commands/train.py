"""`rollcure train`, `rollcure promote`, `rollcure report`: fit, register and validate the models."""

from __future__ import annotations

from pathlib import Path

import typer


def train(
    data: Path = typer.Option(..., "--data", help="Folder with the raw tables (Parquet)."),
    metrics_out: Path = typer.Option(None, "--metrics-out", help="Also write the OOT metric table as JSON."),
    report: Path = typer.Option(
        None, "--report", help="Validation report path (default <data_dir>/reports/)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the validation report."),
    promote_: bool = typer.Option(
        False, "--promote", help="Also move the 'champion' alias to the new version."
    ),
    engine: str | None = typer.Option(None, "--engine", help="local or dask (default: engine.kind)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="dask scheduler tcp://host:port."),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="LocalCluster workers (implies --engine dask); 0 = one per core."
    ),
    config: Path = typer.Option(None, "--config", help="YAML run config."),
) -> None:
    """Train roll-forward and cure models out of time, log them to MLflow and register the bundle."""
    import os

    # idle OpenMP threads sleep rather than spin (spinning cripples LightGBM on a busy machine);
    # set before LightGBM / scikit-learn load their OpenMP runtime
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from rich.console import Console

    from cli.commands.serve import with_engine
    from engine.cluster import EngineError
    from rollcure.config import load_config
    from training.pipeline import run_training
    from training.summary import rich_metrics_table, write_metrics_json

    cfg = with_engine(load_config(config), engine, scheduler, workers)
    console = Console(stderr=True, highlight=False)
    try:
        outcome = run_training(
            cfg, data, console, promote=promote_, report_out=report, write_report_file=not no_report
        )
    except EngineError as exc:  # the cluster failed (workers lost), not the input: exit 1, one line
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    out = Console(highlight=False)
    out.print(rich_metrics_table(outcome.metrics))
    out.print(
        f"run {outcome.run_id}: registered {cfg.training.registered_model} version {outcome.version} "
        f"as 'challenger'{' and champion' if promote_ else ''}"
    )
    if outcome.report_path is not None:
        out.print(f"report: {outcome.report_path}")
    if metrics_out is not None:
        write_metrics_json(outcome.metrics, metrics_out)
        out.print(f"metrics: {metrics_out}")


def promote(
    version: str = typer.Option(
        None, "--version", help="Version to promote (default: the current challenger)."
    ),
    config: Path = typer.Option(None, "--config", help="YAML run config."),
) -> None:
    """Move the 'champion' alias of the registered bundle."""
    from registry.store import promote as do_promote
    from rollcure.config import load_config
    from rollcure.core.errors import InputError

    if version is not None and not version.isdigit():
        raise InputError(f"--version: must be a version number, got {version!r}")
    cfg = load_config(config)
    promoted = do_promote(cfg, version)
    typer.echo(f"{cfg.training.registered_model} version {promoted} is now 'champion'")


def report(
    out: Path = typer.Option(None, "--out", help="HTML file to write (default <data_dir>/reports/)."),
    model: str = typer.Option("champion", "--model", help="Alias or version of the registered bundle."),
    data: Path = typer.Option(None, "--data", help="Data folder (default: the one the run trained on)."),
    config: Path = typer.Option(None, "--config", help="YAML run config."),
) -> None:
    """Write the model validation report (one self-contained HTML file) for a registered bundle."""
    from rollcure.config import load_config
    from training.pipeline import default_report_path, write_report

    cfg = load_config(config)
    path = write_report(cfg, model, out or default_report_path(cfg), data)
    typer.echo(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `rollcure` app."""
    app.command()(train)
    app.command()(promote)
    app.command()(report)
