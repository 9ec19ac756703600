"""`rollcure demo`: the end-to-end run behind the README's first command, and `rollcure version`.

The demo is the product in one sitting: simulate a book, summarise it, train and register the
models, compare them with the baselines out of time, write the validation report, backtest the
strategies against the simulator's truth, segment the overdue book, and ask the running service
for the next best action on a few cases.
"""

from __future__ import annotations

from pathlib import Path

import typer

#: Console width when the demo's output is not a terminal.
DEMO_LOG_WIDTH = 160


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
    """Simulate, summarise, train, register, promote, report, backtest, segment, serve."""
    import os

    # idle OpenMP threads sleep rather than spin (spinning cripples LightGBM on a busy machine)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.rule import Rule

    from cli.commands.data import simulation_config
    from serving.demo import sample_payloads, service_demo
    from simulation import simulate, write_portfolio
    from simulation.summary import portfolio_summary, render_summary
    from training.pipeline import run_training
    from training.policy_runs import backtest_book, segment_latest
    from training.summary import rich_metrics_table

    base, sim_cfg = simulation_config(config, accounts, months)
    cfg = base.model_copy(update={"simulation": sim_cfg, **({"data_dir": data_dir} if data_dir else {})})
    console = Console()
    if not console.is_terminal:  # piped to a file or CI log: do not squeeze the tables to 80 columns
        console = Console(width=DEMO_LOG_WIDTH)
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

    console.print(Rule("3. Strategy backtest against the simulator's truth"))
    reports = Path(cfg.data_dir) / "reports"
    backtest_book(
        cfg, portfolio_dir, outcome.bundle, console=console,
        json_out=reports / "backtest.json", plot_out=reports / "backtest.png",
    )
    console.print(Rule("4. Segments of the overdue book (latest cycle)"))
    segment_latest(cfg, portfolio_dir, outcome.bundle, out_dir=reports / "segments", console=console)

    console.print(Rule("5. Next-best-action service"))
    service_demo(cfg, sample_payloads(portfolio.tables), console=console)
    console.print(f"done: data, MLflow store and reports under {cfg.data_dir}")


def register(app: typer.Typer) -> None:
    """Add the demo and version commands."""
    app.command()(version)
    app.command()(demo)
