"""`rollcure simulate`: write a synthetic portfolio (five raw tables + truth) to a folder."""

from __future__ import annotations

from pathlib import Path

import typer

from rollcure.core.errors import InputError

_OPTION_OF_FIELD = {"accounts": "--accounts", "months": "--months"}


def simulation_config(config: Path | None, accounts: int | None, months: int | None):
    """The simulation section of the run config with CLI overrides applied, validated."""
    from pydantic import ValidationError

    from rollcure.config import format_validation_error, load_config
    from rollcure.config.simulation import SimulationConfig

    base = load_config(config)
    raw = base.simulation.model_dump()
    raw.update({k: v for k, v in {"accounts": accounts, "months": months}.items() if v is not None})
    try:
        return base, SimulationConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"][0] if exc.errors() else ""
        where = _OPTION_OF_FIELD.get(str(first), "simulation")
        raise InputError(f"{where}: {format_validation_error(exc)}") from exc


def simulate_cmd(
    out: Path = typer.Option(..., "--out", help="Folder to write the Parquet tables and truth/ into."),
    accounts: int = typer.Option(None, "--accounts", help="Number of loans (default from config: 20000)."),
    months: int = typer.Option(None, "--months", help="Cycles to write, at least 3 (default 18)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default from config)."),
    config: Path = typer.Option(None, "--config", help="YAML run config (section 'simulation')."),
) -> None:
    """Simulate a synthetic lending book and write borrowers, loans, cycles, contacts, actions + truth/."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from simulation import simulate, write_portfolio

    base, cfg = simulation_config(config, accounts, months)
    seed = base.seed if seed is None else seed
    if seed < 0:
        raise InputError(f"--seed: must be >= 0, got {seed}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: not a folder: {out}")
    console = Console(stderr=True)
    with Progress(
        TextColumn("simulating months"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("months", total=cfg.burn_in_months + cfg.months)
        portfolio = simulate(cfg, seed=seed, progress=lambda done, total: bar.update(task, completed=done))
    write_portfolio(portfolio, out)
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in portfolio.tables.items())
    console.print(f"wrote {out}: {sizes} (+ truth/)")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `rollcure` app."""
    app.command("simulate")(simulate_cmd)
