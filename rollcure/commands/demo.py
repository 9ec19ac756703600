"""`rollcure demo`: the end-to-end run behind the README's first command, and `rollcure version`.

The demo is the product in one sitting: simulate a book, summarise it, train and register the
models, compare them with the baselines out of time, and write the validation report.
"""

from __future__ import annotations

from pathlib import Path

import typer


def version() -> None:
    """Print the installed rollcure version."""
    from rollcure import __version__

    typer.echo(__version__)


def demo(
    accounts: int = typer.Option(None, "--accounts", help="Loans to simulate (default from config: 20000)."),
    months: int = typer.Option(None, "--months", help="Cycles to simulate (default from config: 18)."),
    config: Path = typer.Option(None, "--config", help="YAML run config."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where data, MLflow store and reports go."),
) -> None:
    """Simulate a synthetic portfolio, summarise it, train, register, promote, report."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.rule import Rule

    from rollcure.commands.data import simulation_config
    from simulation import simulate, write_portfolio
    from simulation.summary import portfolio_summary, render_summary
    from training.pipeline import run_training
    from training.summary import rich_metrics_table

    base, sim_cfg = simulation_config(config, accounts, months)
    cfg = base.model_copy(update={"simulation": sim_cfg, **({"data_dir": data_dir} if data_dir else {})})
    console = Console()
    portfolio_dir = Path(cfg.data_dir) / "portfolio"

    console.print(Rule("1. Synthetic portfolio"))
    with Progress(
        TextColumn("simulating months"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:
        task = bar.add_task("months", total=sim_cfg.burn_in_months + sim_cfg.months)
        portfolio = simulate(sim_cfg, seed=cfg.seed, progress=lambda d, t: bar.update(task, completed=d))
    write_portfolio(portfolio, portfolio_dir)
    console.print(f"wrote {portfolio_dir}")
    render_summary(portfolio_summary(portfolio.tables), console)

    console.print(Rule("2. Roll-forward and cure models"))
    outcome = run_training(cfg, portfolio_dir, console, promote=True)
    console.print(rich_metrics_table(outcome.metrics, title="Out-of-time metrics: LightGBM vs baselines"))
    console.print(f"registered bundle version {outcome.version} (champion); report: {outcome.report_path}")


def register(app: typer.Typer) -> None:
    """Add the demo and version commands."""
    app.command()(version)
    app.command()(demo)
