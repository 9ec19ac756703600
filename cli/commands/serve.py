"""`rollcure serve`, `rollcure score`, `rollcure reload` and `rollcure decisions export`.

Thin shells: they load the config, then hand over to ``serving/``. Heavy libraries are imported
inside the commands so that ``rollcure --help`` stays fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

_CONFIG = typer.Option(None, "--config", help="YAML config file (defaults when omitted).")
_DATA = typer.Option(None, "--data", help="Data folder (default: $ROLLCURE_DATA_DIR or ./rollcure_data).")


def _config(config: Path | None, data: Path | None):
    from rollcure.config import load_config

    return load_config(config, data_dir=data)


def export(
    out: Path = typer.Option(..., "--out", help="Parquet file to write."),
    data: Path | None = _DATA,
    config: Path | None = _CONFIG,
) -> None:
    """Dump the decision log (hashed ids, scores, actions, reason codes) to Parquet."""
    from serving.decision_log import open_configured_log
    from serving.export import export_decisions

    cfg = _config(config, data)
    log = open_configured_log(cfg, must_exist=True)
    try:
        n = export_decisions(log, out)
    finally:
        log.close()
    typer.echo(f"exported {n} decisions to {out}")


def serve(
    port: int | None = typer.Option(None, "--port", help="HTTP port (default: serving.port)."),
    data: Path | None = _DATA,
    config: Path | None = _CONFIG,
    insecure_dev: bool = typer.Option(
        False,
        "--insecure-dev",
        envvar="ROLLCURE_INSECURE_DEV",
        help="Start without ROLLCURE_API_TOKEN / ROLLCURE_ID_SALT (open endpoints, reversible case "
        "hashes): a local demo only.",
    ),
) -> None:
    """Start the HTTP service on the registry's champion model (Ctrl-C or SIGTERM stops it).

    Needs ROLLCURE_API_TOKEN and ROLLCURE_ID_SALT in the environment unless --insecure-dev."""
    from serving.runner import serve_forever

    cfg = _config(config, data)
    if insecure_dev:
        typer.echo("INSECURE DEV MODE: no token or salt required; never expose this service", err=True)
    code = serve_forever(cfg, config_path=config, port=port, insecure_dev=insecure_dev)
    if code:
        raise typer.Exit(code)


_ENGINE = typer.Option(None, "--engine", help="local (this process) or dask (default: engine.kind).")
_SCHEDULER = typer.Option(
    None, "--scheduler", help="dask scheduler address tcp://host:port (default: a LocalCluster)."
)
_WORKERS = typer.Option(
    None,
    "--workers",
    min=0,
    help="LocalCluster worker processes (implies --engine dask); 0 = one per core (default: engine.workers).",
)


def with_engine(cfg, engine: str | None, scheduler: str | None, workers: int | None):
    """The config with the engine options of the command line applied (checked like the YAML)."""
    from pydantic import ValidationError

    from rollcure.config import format_validation_error
    from rollcure.config.engine import EngineConfig
    from rollcure.core.errors import InputError

    update: dict[str, object] = {"kind": engine, "workers": workers, "scheduler": scheduler}
    if engine is None and (scheduler is not None or workers is not None):
        update["kind"] = "dask"  # an address or a worker count only make sense on dask
    raw = {**cfg.engine.model_dump(), **{k: v for k, v in update.items() if v is not None}}
    try:
        checked = EngineConfig.model_validate(raw)
    except ValidationError as exc:
        message = (
            format_validation_error(exc).replace("kind:", "--engine:").replace("scheduler:", "--scheduler:")
        )
        raise InputError(message) from None
    return cfg.model_copy(update={"engine": checked})


def score(
    data: Path = typer.Option(
        ..., "--data", help="Folder with the raw tables (Parquet), plain or partitioned."
    ),
    out: Path = typer.Option(..., "--out", help="Parquet file to write."),
    as_of: str | None = typer.Option(None, "--as-of", help="Cycle date YYYY-MM-DD (default: latest)."),
    model: str | None = typer.Option(None, "--model", help="Registry alias or version (default: champion)."),
    engine: str | None = _ENGINE,
    scheduler: str | None = _SCHEDULER,
    workers: int | None = _WORKERS,
    config: Path | None = _CONFIG,
) -> None:
    """Score, explain and recommend every case overdue at the as-of cycle; one capacity plan for the book."""
    from engine.cluster import EngineError
    from rollcure.core.errors import InputError
    from serving.batch import score_portfolio

    cfg = with_engine(_config(config, None), engine, scheduler, workers)  # --data: tables, not data_dir
    when = None
    if as_of is not None:
        try:
            when = date.fromisoformat(as_of)
        except ValueError as exc:
            raise InputError(f"--as-of: not a date YYYY-MM-DD: {as_of!r}") from exc
    chosen = model or cfg.serving.model_alias
    from rich.progress import Progress

    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("scoring", total=None)
            summary = score_portfolio(
                cfg,
                data,
                out,
                as_of=when,
                model=chosen,
                on_chunk=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except EngineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"scored {summary.n_cases} cases at {summary.as_of} with {summary.model_name} "
        f"v{summary.model_version} on {cfg.engine.kind} -> {out}"
    )


def partition(
    data: Path = typer.Option(..., "--data", help="Folder with the raw tables (Parquet)."),
    out: Path = typer.Option(..., "--out", help="New folder for the partitioned datasets."),
    partitions: int = typer.Option(..., "--partitions", min=1, help="Number of hash partitions of loan_id."),
) -> None:
    """Rewrite the raw tables as Parquet datasets partitioned by a hash of loan_id."""
    from engine.partition import partition_book

    manifest = partition_book(data, out, partitions)
    typer.echo(f"wrote {manifest['partitions']} partitions of {', '.join(manifest['tables'])} -> {out}")


def reload(
    url: str = typer.Option("http://127.0.0.1:3000", "--url", help="Base URL of the running service."),
) -> None:
    """Ask a running service to load the current champion (uses $ROLLCURE_API_TOKEN if set)."""
    from serving.client import request_reload

    result = request_reload(url)
    typer.echo(f"model version {result['previous_version']} -> {result['model_version']}")


def register(app: typer.Typer) -> None:
    """Add the serving commands and the `decisions` group."""
    decisions = typer.Typer(help="The audit log of served decisions.", no_args_is_help=True)
    decisions.command("export")(export)
    app.add_typer(decisions, name="decisions")
    app.command()(serve)
    app.command()(score)
    app.command()(partition)
    app.command()(reload)
