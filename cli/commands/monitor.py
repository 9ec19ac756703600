"""`rollcure monitor`: the champion against every cycle since it was trained; exit 3 on an alert.

Reads the raw tables, the champion bundle (the registry's alias, or a saved bundle folder) and the
decision log (the configured one, or a URL or Parquet export given with ``--decisions``), writes
the monitoring page and its JSON, and prints one line: the breached alerts, which a scheduler pages
on (exit code 3), or that none fired (exit code 0).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

#: Exit code of a run that breached a threshold (0: none; 2: bad input).
ALERT_EXIT = 3
PAGE_NAME = "monitoring.html"
JSON_NAME = "monitoring.json"


def _since(value: str | None) -> dt.date | None:
    from rollcure.core.errors import InputError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--since: not a date (YYYY-MM-DD): {value!r}") from exc


def _log_source(cfg, decisions: str | None) -> str | None:
    """The log to read: ``--decisions``, else the configured log if it exists (None: no log yet)."""
    from serving.decision_log import default_url

    if decisions is not None:
        return decisions
    if cfg.serving.decision_log_url:
        return cfg.serving.decision_log_url
    path = Path(cfg.data_dir) / "decisions.sqlite"
    return default_url(cfg.data_dir) if path.is_file() else None


def monitor(
    data: Path = typer.Option(..., "--data", help="Folder with the raw tables (Parquet)."),
    out: Path = typer.Option(..., "--out", help="Folder for the monitoring page (and its JSON)."),
    since: str = typer.Option(None, "--since", help="First cycle to monitor (default: after training)."),
    json_out: Path = typer.Option(None, "--json-out", help="JSON path (default <out>/monitoring.json)."),
    decisions: str = typer.Option(
        None,
        "--decisions",
        help="Decision log: a database URL or a Parquet export (default: configured log).",
    ),
    model: str = typer.Option("champion", "--model", help="Alias or version of the registered bundle."),
    bundle_dir: Path = typer.Option(None, "--bundle", help="A saved bundle folder instead of the registry."),
    config: Path = typer.Option(None, "--config", help="YAML run config."),
) -> int:
    """Monitor the champion: drift, outcomes against predictions, value, arms; exit 3 on an alert."""
    import os

    import pandas as pd

    from rollcure.config import load_config
    from rollcure.core.io import read_tables
    from serving.decision_log import resolve_salt
    from training.monitoring.log_reader import read_decision_log

    first = _since(since)
    cfg = load_config(config)
    tables = read_tables(data)
    if bundle_dir is not None:
        from models.bundle import Bundle

        bundle = Bundle.load(bundle_dir)
    else:
        from registry.store import load_bundle

        bundle = load_bundle(cfg, model)
    source = _log_source(cfg, decisions)
    log = read_decision_log(source) if source is not None else None
    salt = resolve_salt(dict(os.environ), cfg.serving.salt_env) if log is not None else None
    since_ts = pd.Timestamp(first) if first else None
    result = monitor_and_write(cfg, tables, bundle, log, salt, since_ts, out, json_out)
    if log is None:
        typer.echo("no decision log: the value and arm sections are empty", err=True)
    typer.echo(f"page: {out / PAGE_NAME}\njson: {json_out or out / JSON_NAME}")
    typer.echo(result.summary())
    return ALERT_EXIT if result.breached else 0


def monitor_and_write(cfg, tables, bundle, log, salt, since, out: Path, json_out: Path | None = None):
    """Run the monitor and write its page (``out/monitoring.html``) and JSON; returns the result."""
    import json

    from training.monitoring.page import render
    from training.monitoring.run import run_monitor

    _, result = run_monitor(tables, cfg, bundle, log, salt, since)
    out.mkdir(parents=True, exist_ok=True)
    (out / PAGE_NAME).write_text(render(result, cfg.monitoring), encoding="utf-8")
    json_path = json_out or out / JSON_NAME
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result.to_json(), indent=2, default=str))
    return result


def forward_and_monitor(cfg, portfolio_dir: Path, bundle, version: str, out: Path, console=None):
    """The demo's last act: the champion decides for the latest cycle of the simulated book (as the
    service would, into the decision log), the book plays one cycle forward so those decisions meet
    their outcomes, and the monitor runs on the result. The book is replayed from its simulation
    config and seed; the longer book goes to ``<data_dir>/portfolio_forward``."""
    import os

    from rollcure.config.serving import INSECURE_DEV_ENV
    from rollcure.core.io import read_tables
    from serving.decision_log import open_configured_log, resolve_salt
    from serving.log_frames import append_frame
    from simulation import BookRun, read_simulation_config, read_simulation_seed, write_portfolio
    from training.monitoring.forward import play_forward
    from training.monitoring.log_reader import read_decision_log

    sim_cfg, seed = read_simulation_config(portfolio_dir), read_simulation_seed(portfolio_dir)
    run = BookRun(sim_cfg, seed)
    for _ in range(run.window_end - 1):  # the history up to its latest cycle, under the logging policy
        run.month()
    # a local demo, like the demo service: the development salt unless one is set
    salt = resolve_salt({**os.environ, INSECURE_DEV_ENV: "1"}, cfg.serving.salt_env)
    book_cfg = cfg.model_copy(update={"simulation": sim_cfg})
    fw = play_forward(book_cfg, run, bundle, 2, salt, cfg.training.registered_model, version)
    forward_dir = Path(cfg.data_dir) / "portfolio_forward"
    write_portfolio(run.portfolio(), forward_dir)
    log = open_configured_log(cfg)
    try:
        append_frame(log, fw.decisions)
    finally:
        log.close()
    logged = read_decision_log(_log_source(cfg, None) or "")
    result = monitor_and_write(cfg, read_tables(forward_dir), bundle, logged, salt, None, out)
    if console is not None:
        console.print(
            f"{len(fw.decisions):,} decisions logged over 2 cycles; monitoring page: {out / PAGE_NAME}"
        )
        console.print(result.summary())
    return result


def register(app: typer.Typer) -> None:
    """Add the monitor command to the `rollcure` app."""
    app.command()(monitor)
