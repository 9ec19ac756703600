"""The end of `rollcure demo`: start the service for a moment, ask it about a few cases, stop it.

Call :func:`service_demo` after a champion is registered. It runs the real server process (the
same ``bentoml serve`` as `rollcure serve`), so the demo shows what a case management system would
get, and prints the recommendations when a rich console is passed.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pandas as pd

from rollcure.config import RollcureConfig
from rollcure.config.serving import INSECURE_DEV_ENV

DEMO_CASES = 5


def sample_payloads(tables: dict[str, pd.DataFrame], n: int = DEMO_CASES) -> list[dict]:
    """Serving payloads (JSON-ready) of the first ``n`` cases overdue at the latest cycle."""
    from features.cases import overdue_cases
    from features.payload_from_tables import payloads_from_tables

    latest = tables["cycles"]["cycle_date"].max()
    cases = overdue_cases(tables["cycles"], latest).head(n).reset_index(drop=True)
    return [p.model_dump(mode="json") for p in payloads_from_tables(tables, cases)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _print(console: Any, decisions: list[dict], ready_s: float) -> None:
    from rich.table import Table

    table = Table(title=f"POST /recommend (service ready in {ready_s:.1f} s)")
    for col in ("loan", "p roll", "p cure", "action", "EV", "top reason"):
        table.add_column(col)
    for d in decisions:
        ev = d.get("expected_value")
        table.add_row(
            str(d["loan_id"]),
            f"{d['p_roll_forward']:.2f}",
            f"{d['p_cure']:.2f}",
            d.get("action") or "-",
            "-" if ev is None else f"{ev:,.0f}",
            (d.get("reasons") or ["-"])[0],
        )
    console.print(table)


def service_demo(
    cfg: RollcureConfig,
    payloads: list[dict],
    config_path: Path | None = None,
    console: Any = None,
    port: int | None = None,
) -> list[dict]:
    """Start the service, POST the payloads to /recommend, stop it; returns the decisions."""
    from serving.client import post_json
    from serving.runner import check_servable, start_service, stop_service, wait_ready, write_config

    check_servable(cfg)
    if config_path is None:
        config_path = write_config(cfg, Path(cfg.data_dir) / "serving" / "demo-config.yaml")
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    # A local demo: the service starts without a token or a salt, and says so.
    if console is not None:
        console.print("[yellow]demo service in insecure dev mode (--insecure-dev): no token, dev salt")
    env = {**os.environ, INSECURE_DEV_ENV: "1"}
    log_path = Path(cfg.data_dir) / "serving" / "demo-server.log"
    proc = start_service(cfg, config_path, port, env=env, log_path=log_path)
    try:
        ready_s = wait_ready(url, proc)
        decisions = post_json(url + "/recommend", {"cases": payloads})
    finally:
        stop_service(proc)
    if console is not None:
        _print(console, decisions, ready_s)
    return decisions
